"""The embedded back end: the Whoosh index on disk, how it is built, read and scored."""
