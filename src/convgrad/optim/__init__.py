"""Optimizers and learning-rate schedules (``torch.optim`` names, arguments and update rules)."""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer, flatten_state_dict, unflatten_state_dict
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "Adadelta", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler", "flatten_state_dict",
           "unflatten_state_dict"]
