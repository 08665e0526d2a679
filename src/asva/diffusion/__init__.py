"""asva.diffusion"""
