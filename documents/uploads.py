"""An upload handler that stops reading a file once it passes DOCUMENT_MAX_BYTES.

It comes first in ``FILE_UPLOAD_HANDLERS`` so that an oversized file is never
written to the temporary upload directory. The skipped file names are kept on
the request (``request.oversized_uploads``) for the view to explain.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class SizeLimitUploadHandler(FileUploadHandler):
    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.DOCUMENT_MAX_BYTES:
            if self.request is not None:
                skipped = getattr(self.request, "oversized_uploads", [])
                skipped.append(self.file_name)
                self.request.oversized_uploads = skipped
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None
