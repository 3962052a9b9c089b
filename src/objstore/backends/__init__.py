"""The built-in backends: ``memory``, ``file`` (and ``s3`` with the ``s3`` extra)."""
