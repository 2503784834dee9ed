"""One module per guarded resource type; each declares a ``REMEDIATOR`` (see ``remediators.registry``)."""
