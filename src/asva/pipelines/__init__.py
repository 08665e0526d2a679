"""asva.pipelines"""
