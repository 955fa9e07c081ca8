"""The vision bridge: images for models that cannot see them.

A request routed to a text-only model may carry images (a pasted screenshot, ``view_image``). The
bridge asks a vision model (``--vision-model PROVIDER/MODEL``, or the routed provider's own vision
model) to transcribe and describe each image, caches the answer by the image's sha256, and puts the
text where the image was, so the text-only model reads the screenshot. With no vision model, or when
it fails, the image is saved under ``<data dir>/images/`` and the placeholder says where it is and
which command reads it. The pure half (finding and replacing image parts) is
:mod:`mimo2codex.protocol.images`.
"""
