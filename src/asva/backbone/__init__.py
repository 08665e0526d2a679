"""asva.backbone"""
