"""KeyVID (Wang et al. 2025): keyframe generation and motion interpolation on DynamiCrafter-512.

The KeyVID networks are the DynamiCrafter UNet with a few extra parts layered on top
(`attach_keyvid`): a frame-index embedding, an audio projection, and a gated audio branch in every
spatial cross-attention. `features` turns encoder tokens into per-keyframe image and audio tokens,
`interpolation` conditions the second network on generated keyframes, `freenoise` lets it produce
more frames than it was trained on.
"""
