"""``torch.backends.cudnn``: there is no cuDNN; the flags are accepted and change nothing."""
enabled = False
benchmark = False
deterministic = False
allow_tf32 = False


def is_available():
    return False


def version():
    return None
