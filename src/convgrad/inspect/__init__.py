"""Looking inside networks: gradient checks, summaries, the Toeplitz view, pictures."""
from .gradcheck import gradcheck, numerical_grad
