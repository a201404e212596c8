"""Write an S3 object as it is produced, in bounded memory (S3 multipart upload).

Standard library and a boto3 S3 client only: this module ships in the Lambda asset with the
handlers. :class:`S3StreamWriter` buffers at most ``part_bytes`` (default
:data:`DEFAULT_PART_BYTES`, 8 MiB) before it uploads a part, so memory does not grow with
the object. An object smaller than one part is written with one ``PutObject`` (no multipart
upload at all); a failure aborts the multipart upload, so no orphaned parts are left behind
(the data lake's lifecycle rule cleans up any the abort cannot).

S3 facts used: every part but the last is at least 5 MiB, a multipart upload has at most
10,000 parts (so 8 MiB parts allow objects up to about 78 GiB) and ``CompleteMultipartUpload``
lists the parts with their ``ETag`` in ascending ``PartNumber`` order.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any

MIN_PART_BYTES = 5 * 1024 * 1024
"""S3's minimum size of every part but the last."""
MAX_PARTS = 10_000
"""S3's maximum number of parts of one multipart upload."""
DEFAULT_PART_BYTES = 8 * 1024 * 1024


class S3StreamWriter:
    """A binary sink that uploads to ``s3://bucket/key`` as data arrives.

    Use as a context manager: leaving the block normally completes the object, leaving it on
    an exception aborts the upload. ``parts_uploaded`` and ``bytes_written`` tell what
    happened. ``client`` is a boto3 S3 client.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        part_bytes: int = DEFAULT_PART_BYTES,
    ) -> None:
        if part_bytes < MIN_PART_BYTES:
            raise ValueError(
                f"part_bytes {part_bytes} is below S3's minimum part size of {MIN_PART_BYTES}"
            )
        self._client = client
        self.bucket = bucket
        self.key = key
        self._content_type = content_type
        self._part_bytes = part_bytes
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._closed = False
        self.bytes_written = 0

    @property
    def parts_uploaded(self) -> int:
        return len(self._parts)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def write(self, data: bytes) -> None:
        """Append ``data``; uploads a part each time ``part_bytes`` are buffered."""
        if self._closed:
            raise ValueError(f"write to {self.uri} after it was closed")
        self.bytes_written += len(data)
        view = memoryview(data)
        size = self._part_bytes
        if len(self._buffer) + len(view) < size:
            self._buffer += view
            return
        # Fill the buffered part, then upload whole parts straight from ``data``: a large
        # write is sliced, never copied into the buffer as a whole.
        taken = size - len(self._buffer)
        self._buffer += view[:taken]
        self._upload_part(bytes(self._buffer))
        self._buffer = bytearray()
        while len(view) - taken >= size:
            self._upload_part(bytes(view[taken : taken + size]))
            taken += size
        self._buffer += view[taken:]

    def close(self) -> None:
        """Complete the object (a single ``PutObject`` when it fits in one part)."""
        if self._closed:
            return
        self._closed = True
        if self._upload_id is None:
            self._client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=bytes(self._buffer),
                ContentType=self._content_type,
            )
        else:
            if self._buffer:
                self._upload_part(bytes(self._buffer))
            self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        self._buffer = bytearray()

    def abort(self) -> None:
        """Drop what was written; abort the multipart upload if one was started."""
        self._closed = True
        self._buffer = bytearray()
        if self._upload_id is not None:
            self._client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id
            )

    def _upload_part(self, part: bytes) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self._content_type
            )
            self._upload_id = str(created["UploadId"])
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise ValueError(
                f"{self.uri} needs more than {MAX_PARTS} parts of {self._part_bytes} bytes"
            )
        response = self._client.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=part,
        )
        self._parts.append({"ETag": response["ETag"], "PartNumber": number})

    def __enter__(self) -> S3StreamWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
            return
        # The original error matters more than a failed abort (the bucket's lifecycle rule
        # removes an incomplete upload the abort could not).
        with contextlib.suppress(Exception):
            self.abort()
