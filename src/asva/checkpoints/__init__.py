"""asva.checkpoints"""
