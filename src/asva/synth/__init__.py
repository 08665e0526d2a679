"""asva.synth"""
