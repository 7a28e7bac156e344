"""Entropy modelling and coding.

``rans``          CompressAI's rANS coder with CDF tables as plain data (torch-free)
``latent_coder``  the slice-by-slice coding loop and the EntropyParameters protocol (torch-free);
                  the exactness boundary between decodability and floating-point networks
``integer_networks`` the entropy-parameter networks in exact fixed-point arithmetic (torch-free):
                  what both worlds code with, so every machine picks the same CDFs
``slices``        PyTorch implementation of the channel-wise autoregressive slice model with LRP
                  (the training path; quantised to integer_networks for coding)
"""
