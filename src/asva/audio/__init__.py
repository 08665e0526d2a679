"""asva.audio"""
