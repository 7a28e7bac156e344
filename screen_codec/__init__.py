"""screen_codec: the learned screen-content image codec (research/training world).

Implements "Enhanced Screen Content Image Compression: A Synergistic Approach for Structural
Fidelity and Text Integrity Preservation" on a WACNN backbone, with CompressAI building blocks.

Modules, one concern each:
  priors       external prior guidance (EPG), eq. (5)-(6)
  detectors    text detectors behind one interface (dbnet, craft, morph, none)
  layers       GDN, window attention, FEM and NESFT (SEM, eq. (1)-(4), (7))
  entropy      the entropy-parameter path (exactness boundary) and the rANS latent coder
  models       WACNN backbone + SEM, registered configurations by name
  losses       rate + text-weighted distortion, eq. (8)-(11)
  bitstream    bitstream format v1 and its typed errors
  codec        image <-> bitstream, the coding path both worlds run
  reference_streams  a model's cross-hardware decoding contract, checked at every load
  metrics      PSNR of 8-bit images
"""
