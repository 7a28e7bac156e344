"""Entropy modelling and coding.

``rans``          CompressAI's rANS coder with CDF tables as plain data (torch-free)
``latent_coder``  the slice-by-slice coding loop and the EntropyParameters protocol (torch-free);
                  the exactness boundary between decodability and floating-point networks
``slices``        PyTorch implementation of the channel-wise autoregressive slice model with LRP
"""
