"""The MPI world: which process this is, how many there are, and collectives on arrays.

convgrad runs data-parallel over MPI through mpi4py, the way NumPy code usually does (Horovod's
and PyTorch DDP's semantics, MPI's transport)::

    mpiexec -n 2 python train.py          # or: mpiexec -n 2 convgrad train ...

    from convgrad import distributed as dist
    dist.init()
    print(dist.rank(), "of", dist.world_size())
    dist.all_reduce(array, op="mean")      # in place, on every rank

mpi4py is an optional extra (``pip install convgrad[mpi]``, which brings the ``mpich`` wheel and
its ``mpiexec``). It is imported only when a process was started by ``mpiexec`` with more than one
rank, or when :func:`init` is called explicitly: a plain single-process run never imports it, and
there :func:`rank` is 0, :func:`world_size` is 1 and the collectives return their input.

A failed rank must not leave the others waiting for ever in a collective: :func:`init` installs
an exception hook that names the rank and aborts the whole job (``MPI_Abort``), and the CLI calls
:func:`abort` on its error paths. A rank killed by a signal is noticed by ``mpiexec`` itself,
which then ends the other ranks.
"""
import os
import sys
import traceback

import numpy as np

from ..errors import ConvgradError

INSTALL_HINT = "pip install convgrad[mpi]"
# environment variables through which launchers tell a process the size of its world
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")  # MPICH/Slurm, Open MPI, MVAPICH
_OPS = ("sum", "mean", "max", "min")

_world = {"comm": None, "MPI": None}


class DistributedError(ConvgradError, RuntimeError):
    """Distributed training cannot run: mpi4py or mpiexec missing, or a bad world setup."""


def launched_world_size():
    """The number of ranks the launcher (``mpiexec``, Slurm's PMI) says this job has, read from
    the environment without importing MPI; 1 for a process not started by a launcher."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name)
        if value and value.strip().isdigit():
            return int(value)
    return 1


def _import_mpi():
    try:
        import mpi4py
    except ImportError:
        mpi4py = None
    if mpi4py is None:
        raise DistributedError(f"distributed training needs mpi4py and an MPI library: {INSTALL_HINT} "
                               f"(brings mpi4py and mpich with its mpiexec)")
    mpi4py.rc.thread_level = "funneled"  # only the main thread calls MPI (BLAS threads never do)
    from mpi4py import MPI

    return MPI


def init(force=False):
    """Join the MPI world (idempotent); returns the world size.

    Under ``mpiexec -n N`` (N > 1) or with ``force=True`` this imports mpi4py, initialises MPI and
    installs the abort-on-exception hook; otherwise it does nothing and returns 1.

    Args:
        force: initialise MPI even in a single process (``--distributed`` without ``mpiexec``).

    Returns:
        The number of ranks.

    Raises:
        DistributedError: mpi4py is not installed (the message says what to install).

    Example:
        >>> from convgrad import distributed as dist
        >>> dist.init()       # a plain process: no MPI, one rank
        1
    """
    if _world["comm"] is not None:
        return _world["comm"].Get_size()
    if not force and launched_world_size() <= 1:
        return 1
    MPI = _import_mpi()
    _world["MPI"], _world["comm"] = MPI, MPI.COMM_WORLD
    _install_excepthook()
    return MPI.COMM_WORLD.Get_size()


def is_initialized():
    """True once :func:`init` joined an MPI world."""
    return _world["comm"] is not None


def get_comm():
    """The ``mpi4py`` world communicator (after :func:`init`), or None in a plain process."""
    return _world["comm"]


def mpi_module():
    """The ``mpi4py.MPI`` module once initialised (for ``MPI.SUM``, ``MPI.IN_PLACE``...), else None."""
    return _world["MPI"]


def rank():
    """This process's rank in the world, 0 to ``world_size() - 1`` (0 without MPI)."""
    return 0 if _world["comm"] is None else _world["comm"].Get_rank()


def world_size():
    """The number of processes in the world (1 without MPI)."""
    return 1 if _world["comm"] is None else _world["comm"].Get_size()


def is_distributed():
    """True when more than one rank takes part (MPI initialised with world size > 1)."""
    return world_size() > 1


def is_main():
    """True on rank 0, the one that prints, writes metrics and checkpoints (always in one process)."""
    return rank() == 0


def barrier():
    """Wait until every rank got here (no-op without MPI)."""
    if _world["comm"] is not None:
        _world["comm"].Barrier()


def _array_of(x):
    """``(array, wrapped)`` for a NumPy array or a convgrad Tensor (its storage, ``.numpy()``)."""
    from ..tensor import Tensor

    if isinstance(x, Tensor):
        return x.numpy(), True
    if isinstance(x, np.ndarray):
        return x, False
    raise TypeError(f"expected a NumPy array or a convgrad Tensor, got {type(x).__name__}")


def all_reduce(x, op="sum", comm=None):
    """Combine ``x`` over all ranks, in place: every rank ends with the same result.

    Args:
        x: a NumPy array or Tensor (changed in place; must be C-contiguous), or a Python number
            (returned combined).
        op: "sum", "mean", "max" or "min".
        comm: an mpi4py communicator (default: the world).

    Returns:
        ``x`` itself (arrays, tensors) or the combined number.

    Raises:
        ValueError: an unknown ``op``; TypeError: ``x`` is neither an array nor a number.

    Example:
        >>> import numpy as np
        >>> all_reduce(np.array([1.0, 2.0]), op="mean")   # one process: unchanged
        array([1., 2.])
    """
    if op not in _OPS:
        raise ValueError(f"all_reduce: op must be one of {_OPS}, got {op!r}")
    if isinstance(x, (int, float, np.number)) and not isinstance(x, bool):
        out = all_reduce(np.array([x], dtype=np.float64), op, comm)
        return type(x)(out[0]) if isinstance(x, (int, float)) else out[0]
    array, _ = _array_of(x)
    comm = comm or _world["comm"]
    if comm is None or comm.Get_size() == 1:
        return x
    if not array.flags.c_contiguous:
        raise ValueError("all_reduce: the array must be C-contiguous (it is reduced in place)")
    MPI = _world["MPI"]
    mpi_op = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op]
    comm.Allreduce(MPI.IN_PLACE, array, op=mpi_op)
    if op == "mean":
        array /= comm.Get_size()
    return x


def broadcast(x, root=0, comm=None):
    """Copy ``x`` from rank ``root`` to every rank, in place (arrays, tensors).

    Args:
        x: a C-contiguous NumPy array or Tensor of the same shape and dtype on every rank, or a
            JSON-able Python value (numbers, strings, lists, dicts: sent as JSON, never pickled).
        root: the rank whose value wins.
        comm: an mpi4py communicator (default: the world).

    Returns:
        ``x`` (arrays, tensors) or root's value (other Python values).
    """
    comm = comm or _world["comm"]
    if comm is None or comm.Get_size() == 1:
        return x
    from ..tensor import Tensor

    if isinstance(x, (np.ndarray, Tensor)):
        array, _ = _array_of(x)
        if not array.flags.c_contiguous:
            raise ValueError("broadcast: the array must be C-contiguous (it is overwritten in place)")
        comm.Bcast(array, root=root)
        return x
    import json

    payload = json.dumps(x).encode("utf-8") if comm.Get_rank() == root else None
    size = np.array([len(payload) if payload is not None else 0], dtype=np.int64)
    comm.Bcast(size, root=root)
    buf = np.frombuffer(payload, dtype=np.uint8).copy() if payload is not None else np.empty(int(size[0]), np.uint8)
    comm.Bcast(buf, root=root)
    return json.loads(buf.tobytes().decode("utf-8"))


def abort(message=None, code=1):
    """End the whole job now: print ``message`` naming this rank on stderr, then ``MPI_Abort``.

    Without MPI this is ``sys.exit(code)`` after printing. Use it on error paths of a distributed
    program: a rank that merely exits would leave the others waiting in their next collective.
    """
    if message:
        print(f"convgrad: rank {rank()} of {world_size()} failed: {message}", file=sys.stderr, flush=True)
    sys.stderr.flush()
    sys.stdout.flush()
    if _world["comm"] is not None and world_size() > 1:
        _world["comm"].Abort(code)
    sys.exit(code)


def _install_excepthook():
    previous = sys.excepthook

    def hook(kind, value, tb):
        if world_size() <= 1 or kind in (SystemExit,):
            return previous(kind, value, tb)
        text = "".join(traceback.format_exception(kind, value, tb)).rstrip()
        print(f"rank {rank()} of {world_size()}: unhandled exception, aborting the job\n{text}",
              file=sys.stderr, flush=True)
        _world["comm"].Abort(1)

    sys.excepthook = hook
