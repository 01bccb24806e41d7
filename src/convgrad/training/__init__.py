"""Training: the ``fit`` loop, evaluation, metrics, and whole MNIST runs (what the CLI runs).

    from convgrad.training import fit, evaluate
    history = fit(model, train_loader, optimizer, epochs=10, scheduler=sched,
                  checkpoint_path="run/checkpoint.npz", checkpoint_every=100)
    accuracy = evaluate(model, test_loader)
"""
from .fit import TrainingDivergedError, evaluate, fit
from .metrics import RunningStats, accuracy, correct_count
from .runner import DEFAULTS, RunError, evaluate_checkpoint, predict_digits, resume_run, train_run
