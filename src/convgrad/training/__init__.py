"""Training: the ``fit`` loop with its objectives, evaluation, metrics, and whole runs (what the CLI runs).

    from convgrad.training import fit, evaluate
    history = fit(model, train_loader, optimizer, epochs=10, scheduler=sched,
                  checkpoint_path="run/checkpoint.npz", checkpoint_every=100)
    accuracy = evaluate(model, test_loader)
    fit(vae, train_loader, optimizer, epochs=10, objective=VAE())       # or Reconstruction(), GAN()
"""
from .fit import History, TrainingDivergedError, evaluate, fit
from .groups import Optimizers, Schedulers
from .objectives import GAN, VAE, Classification, Objective, Reconstruction, make_objective, objective_for_model
from .metrics import RunningStats, accuracy, correct_count
from .rundir import RunError, RunLock, read_metrics
from .runner import DEFAULTS, resume_run, train_run
from .use import evaluate_checkpoint, predict_digits, predict_files
