"""asva.keyframes"""
