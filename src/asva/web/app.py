"""The Gradio page of `asva serve`: uploads and settings on the left, the video and its pictures on the right.

The page only converts between widgets and `animate_request` (asva.web.request), which does the
work; `launch` starts the server with one queue so that a single video is sampled at a time.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from asva.cli import EXAMPLE_AUDIO, EXAMPLE_IMAGE, EXAMPLE_PROMPT, _asset
from asva.web.request import (
    AUDIO_TYPES,
    IMAGE_TYPES,
    MAX_FPS,
    MAX_GUIDANCE,
    MAX_STEPS,
    DemoSettings,
    RequestError,
    ServeLimits,
    animate_request,
)
from asva.web.store import MODES, ModeUnavailableError, PipelineStore

INTRO = """
# asva: animate a picture to a sound
Give it a still image and a short sound; it makes a short video whose motion follows the sound
(audio-synchronized visual animation). A prompt describing what happens is optional.
Below the video: the frames it made over the sound's waveform, and the sound's onsets against
the video's motion (peaks that line up mean picture and sound are in sync).
"""
# System fonts only: a local tool should not fetch web fonts, and offline browsers would wait for them.
THEME = gr.themes.Soft(
    primary_hue="indigo",
    font=["ui-sans-serif", "system-ui", "sans-serif"],
    font_mono=["ui-monospace", "monospace"],
)
CSS = ".gradio-container {max-width: 1280px !important; margin: auto;}"
STATUS_EVERY_S = 2.0


def build_app(store: PipelineStore, limits: ServeLimits) -> gr.Blocks:
    """The demo page for the models in `store`, refusing what `limits` forbids."""
    preset = store.preset
    defaults = preset.sampling
    with gr.Blocks(title="asva web demo", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(INTRO)
        if store.notice:
            gr.Markdown(f"> **Note.** {store.notice}")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                image_in = gr.Image(
                    label=f"Image ({_types(IMAGE_TYPES)})",
                    type="filepath",
                    sources=["upload"],
                    height=260,
                    elem_id="image-input",
                )
                audio_in = gr.Audio(
                    label=f"Audio ({_types(AUDIO_TYPES)}; at most {limits.max_audio_s:g} s)",
                    type="filepath",
                    sources=["upload"],
                    elem_id="audio-input",
                )
                prompt_in = gr.Textbox(
                    label="Prompt (optional)",
                    placeholder=f"what happens, e.g. {EXAMPLE_PROMPT}",
                    elem_id="prompt",
                )
                gr.Examples(
                    examples=[[str(_asset(EXAMPLE_IMAGE)), str(_asset(EXAMPLE_AUDIO)), EXAMPLE_PROMPT]],
                    inputs=[image_in, audio_in, prompt_in],
                    label="Or start from the bundled example",
                    example_labels=["hammer and anvil (SynthAV)"],
                    cache_examples=False,
                )
                with gr.Accordion("Settings", open=True):
                    mode_in = gr.Radio(
                        list(MODES),
                        value="uniform",
                        label="Mode",
                        info="uniform: evenly spaced frames; keyframe: KeyVID, frames where the sound "
                        "has events (needs a KeyVID model)",
                    )
                    with gr.Row():
                        fps_in = gr.Slider(
                            1,
                            MAX_FPS,
                            value=preset.fps,
                            step=1,
                            label="FPS",
                            info=f"{preset.frames} frames: the clip lasts {preset.frames} / FPS seconds",
                            elem_id="fps",
                        )
                        steps_in = gr.Slider(
                            1,
                            MAX_STEPS,
                            value=defaults.steps,
                            step=1,
                            label="Sampling steps (DDIM)",
                            info="more steps: slower, cleaner",
                            elem_id="steps",
                        )
                    with gr.Row():
                        g_image = _guidance("Image guidance", defaults.guidance_image)
                        g_text = _guidance("Text guidance", defaults.guidance_text)
                        g_audio = _guidance("Audio guidance", defaults.guidance_audio)
                    seed_in = gr.Number(value=0, precision=0, minimum=0, label="Seed", elem_id="seed")
                button = gr.Button("Animate", variant="primary", elem_id="animate")
                status = gr.Markdown(store.status(), elem_id="server-status")
                gr.Markdown(
                    f"Uploads up to {limits.max_upload_mb:g} MB; audio up to {limits.max_audio_s:g} s. "
                    "One video is made at a time: others wait in line and see their place in it."
                )
            with gr.Column(scale=6):
                video_out = gr.Video(
                    label="Video (with its sound)", interactive=False, elem_id="video-output"
                )
                summary_out = gr.Markdown(elem_id="summary")
                download_out = gr.File(label="Download the mp4", interactive=False, elem_id="download")
        # Headings instead of image labels: a label is drawn over the picture's top-left corner.
        gr.Markdown("### Frames over the waveform\nEach frame is joined to its time in the sound.")
        strip_out = gr.Image(show_label=False, type="numpy", format="png", interactive=False, elem_id="strip")
        gr.Markdown("### Sync: audio onsets against the video's motion")
        sync_out = gr.Image(
            show_label=False, type="numpy", format="png", interactive=False, elem_id="sync-plot"
        )

        def run(
            image: str | None,
            audio: str | None,
            prompt: str,
            mode: str,
            fps: float,
            steps: float,
            guidance_image: float,
            guidance_text: float,
            guidance_audio: float,
            seed: float | None,
            progress: gr.Progress = gr.Progress(),  # noqa: B008 -- Gradio finds the tracker by this default
        ) -> tuple[Any, ...]:
            def report(done: int, total: int, what: str) -> None:
                progress((done, total), desc=what)

            try:
                settings = DemoSettings(
                    prompt=(prompt or "").strip(),
                    mode=mode,
                    fps=float(fps),
                    steps=_whole(steps, "steps"),
                    guidance_image=float(guidance_image),
                    guidance_text=float(guidance_text),
                    guidance_audio=float(guidance_audio),
                    seed=_whole(seed, "seed"),
                )
                out = animate_request(
                    store, limits, image, audio, settings, video_out.move_resource_to_block_cache, report
                )
            except (RequestError, ModeUnavailableError) as err:
                raise gr.Error(str(err), title="Cannot make this video") from err
            return str(out.video), out.strip, out.sync, str(out.video), out.summary

        button.click(
            run,
            inputs=[
                image_in,
                audio_in,
                prompt_in,
                mode_in,
                fps_in,
                steps_in,
                g_image,
                g_text,
                g_audio,
                seed_in,
            ],
            outputs=[video_out, strip_out, sync_out, download_out, summary_out],
            concurrency_limit=1,
            concurrency_id="sampler",
        )
        # The status line polls outside the queue: it must answer while the queue is busy sampling.
        gr.Timer(STATUS_EVERY_S).tick(store.status, outputs=status, queue=False, show_progress="hidden")
    return app


def launch(app: gr.Blocks, limits: ServeLimits, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve `app` on host:port with a one-at-a-time queue, until interrupted."""
    app.queue(default_concurrency_limit=1)
    app.launch(
        server_name=host,
        server_port=port,
        max_file_size=limits.max_upload_bytes,
        # Gradio serves only files it made or was allowed: the example's two files, nothing else.
        allowed_paths=[str(_asset(EXAMPLE_IMAGE)), str(_asset(EXAMPLE_AUDIO))],
        show_error=True,
        ssr_mode=False,
        theme=THEME,
        css=CSS,
    )


def _guidance(label: str, value: float) -> gr.Slider:
    return gr.Slider(0, MAX_GUIDANCE, value=value, step=0.5, label=label)


def _types(types: tuple[str, ...]) -> str:
    return ", ".join(t.lstrip(".") for t in types)


def _whole(value: float | None, name: str) -> int:
    """A widget's number as an int; RequestError for an empty box or a fraction."""
    if value is None or not float(value).is_integer():
        raise RequestError(f"{name} must be a whole number, got {value!r}")
    return int(value)
