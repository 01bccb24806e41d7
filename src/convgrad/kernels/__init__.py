"""Raw NumPy compute shared by several operations. Nothing here touches ``Tensor``."""
