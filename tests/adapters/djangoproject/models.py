from __future__ import annotations

from django.db import models


class Document(models.Model):
    """An uploaded document; its file lives in the default storage (objstore)."""

    title = models.CharField(max_length=100)
    upload = models.FileField(upload_to="uploads/")
