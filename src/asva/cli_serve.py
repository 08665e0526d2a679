"""`asva serve`: parse arguments, load the model once and start the web demo (asva.web).

Registered in `asva.cli` as `app.command("serve")(serve)`.
"""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; 0.0.0.0 opens it to the network (default: this machine)."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 7860,
    model: Annotated[str, typer.Option(help="'tiny' (bundled) or a model folder with asva.json.")] = "tiny",
    max_upload_mb: Annotated[
        float, typer.Option(help="Largest accepted upload, in MB (2**20 bytes).")
    ] = 20.0,
    max_audio_s: Annotated[float, typer.Option(help="Longest accepted audio, in seconds.")] = 30.0,
    device: Annotated[str, typer.Option(help="torch device, e.g. cpu or cuda.")] = "cpu",
) -> None:
    """Start the web demo: upload an image and a sound in a browser, get the video back."""
    from asva.web import PipelineStore, ServeLimits
    from asva.web.app import build_app, launch

    limits = ServeLimits(max_upload_mb=max_upload_mb, max_audio_s=max_audio_s)
    store = PipelineStore.load(model, device=device)  # once per process, before the first request
    launch(build_app(store, limits), limits, host=host, port=port)
