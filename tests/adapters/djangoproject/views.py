from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from .models import Document


def upload(request: HttpRequest) -> HttpResponse:
    """Store the posted file through the model's ``FileField`` and describe it."""
    if request.method != "POST" or "file" not in request.FILES:
        return HttpResponse(status=400)
    document = Document.objects.create(title=request.POST["title"], upload=request.FILES["file"])
    return JsonResponse({"id": document.pk, "name": document.upload.name})
