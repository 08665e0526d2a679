"""asva.metrics"""
