"""Looking inside networks: gradient checks, summaries, the Toeplitz view, pictures."""
from .conv_matrix import SparseMatrix, conv_matrix
from .gradcheck import gradcheck, numerical_grad
from .summary import Summary, explain, summary
