"""The autoloader: tables fed by files that other systems drop into S3 or a folder, each file version loaded once."""
