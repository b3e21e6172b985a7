"""Video: uploads, storage (local disk, S3), the ffmpeg pipeline and its tasks."""
