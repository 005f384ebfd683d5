"""Read and run an ONNX file by the rules of the Deepness QGIS plugin's model loader.

Our own code, written from reading Deepness's public source (github.com/PUTvision/
qgis-plugin-deepness, v0.6.5, commit f450c63; nothing copied). Each rule names where
Deepness applies it, so a test failing here says which Deepness step would fail:

* ``ModelBase.__init__``: exactly one input; its shape is kept as onnxruntime reports it
  (an int per fixed dimension, a str per symbolic one).
* ``StandardizationParameters(channels_number=input_shape[-3])`` builds ``range(channels)``,
  and ``limit_channels_number`` slices ``[..., :channels]``: the channel dim must be an int.
* ``DeepnessDockWidget._load_model_and_display_info`` puts ``input_shape[-1]`` into the
  tile-size spin box (a str raises TypeError: "Failed to load the model"); tiles are square
  of that size, so a fixed height must equal the width. A str batch means "dynamic": the
  user's batch size is used.
* ``get_metadata_model_type``: ``json.loads(model_type)``, ``str.capitalize()``, then
  ``ModelType(...)`` of the Deepness model classes; here it must be "Segmentor".
* ``get_outputs_channel_names``: ``class_names`` (or ``names``) by ``json.loads``, else
  ``ast.literal_eval``; a dict is one output; keys must be 0, 1, 2, ... without gaps.
* ``get_metadata_standarization_parameters``: both ``standardization_mean`` and
  ``standardization_std`` as JSON number lists, broadcast over NHWC tiles (length = channels
  or 1); ``resolution`` as float, ``tile_size`` and ``tiles_overlap`` through ``int()``.
* ``Segmentor.get_number_of_output_channels``: a 3-d output is 2 classes (sigmoid), a 4-d
  one has ``shape[-3]`` classes (1 -> 2); ``MapProcessorSegmentation`` later calls
  ``range()`` on that number, so a symbolic class dim crashes after every tile has run
  ("'str' object cannot be interpreted as an integer"). ``get_channel_name`` raises when a
  class has no name; a single sigmoid name becomes ['background', name].
* ``ModelBase.preprocessing``: uint8 NHWC tiles / 255, then (v - mean) / std, then NCHW.
  ``MapProcessorSegmentation._process_tile``: argmax over classes + 1 (1 channel: p != 0
  + 1, after the threshold). ``TileParams.set_mask_on_full_img``: an output smaller than
  the tile is centred with offset (tile - out) // 2, which must be even and not negative.
* ``_load_default_model_parameters`` then sets the tile size from the ``tile_size`` key:
  with a fixed input it must equal the input's width.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass

import numpy as np

DEEPNESS_MODEL_TYPES = ("Segmentor", "Regressor", "Detector", "Superresolution", "Recognition")


class DeepnessRefusedError(Exception):
    """Deepness would not load (or would crash on) this model; the message says at which step."""


@dataclass
class DeepnessView:
    """What Deepness takes from a model file."""

    session: object
    input_name: str
    batch: int | None              # None: dynamic, the user's batch size
    channels: int
    tile_size: int
    classes: list[int]             # per output, as get_number_of_output_channels counts them
    class_names: list[list[str]] | None
    mean: np.ndarray
    std: np.ndarray
    metadata: dict


def load_like_deepness(path) -> DeepnessView:
    """Open ``path`` as Deepness's Segmentor does, raising :class:`DeepnessRefusedError` where it would fail."""
    import onnxruntime as ort

    return read_like_deepness(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]))


def read_like_deepness(session) -> DeepnessView:
    """The checks of :func:`load_like_deepness` on an open onnxruntime session (or one that looks like it)."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise DeepnessRefusedError(f"ModelBase: {len(inputs)} inputs, Deepness takes exactly one")
    shape = list(inputs[0].shape)
    if len(shape) != 4:
        raise DeepnessRefusedError(f"input shape {shape}: Deepness reads [batch, channels, height, width]")
    batch, channels, height, width = shape
    if not isinstance(channels, int):
        raise DeepnessRefusedError(f"input channels {channels!r} are symbolic: StandardizationParameters needs an int")
    if not isinstance(width, int):
        raise DeepnessRefusedError(f"input width {width!r} is symbolic: the dialog's tile size needs an int "
                              "(export with a fixed shape)")
    if isinstance(height, int) and height != width:
        raise DeepnessRefusedError(f"input {height}x{width} is not square: Deepness cuts square tiles of {width} px")
    meta = dict(session.get_modelmeta().custom_metadata_map)
    metadata = _metadata(meta)
    if metadata.get("model_type") != "Segmentor":
        raise DeepnessRefusedError(f"model_type {metadata.get('model_type')!r}: not a Deepness Segmentor")
    classes, sigmoid = _output_classes(session)
    names = _class_names(meta)
    if metadata.get("tile_size") not in (None, width):
        raise DeepnessRefusedError(f"metadata tile_size {metadata['tile_size']} differs from the input's {width} px: "
                              "'Load default parameters' would set a tile size the model refuses")
    if names is not None:
        for k, is_sigmoid in enumerate(sigmoid[:len(names)]):
            if is_sigmoid and len(names[k]) == 1:
                names[k] = ["background", names[k][0]]
        for k, (count, own) in enumerate(zip(classes, names)):
            if count > len(own):
                raise DeepnessRefusedError(f"output {k} has {count} classes but class_names names {len(own)}: "
                                      "get_channel_name raises")
    mean, std = _standardization(meta, channels)
    return DeepnessView(session, inputs[0].name, batch if isinstance(batch, int) else None, channels, width,
                        classes, names, mean, std, metadata)


def run_like_deepness(view: DeepnessView, tiles_nhwc: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Class maps (N, outputs, tile, tile) with Deepness's values (class id + 1) for uint8 NHWC tiles."""
    if view.batch is not None and len(tiles_nhwc) != view.batch:
        raise DeepnessRefusedError(f"fixed batch {view.batch}, got {len(tiles_nhwc)} tiles")
    x = np.float32(tiles_nhwc[:, :, :, :view.channels] * (1.0 / 255.0))
    x = np.transpose((x - view.mean) / view.std, (0, 3, 1, 2)).astype(np.float32)
    results = view.session.run(None, {view.input_name: x})
    maps = []
    for result in results:
        result = np.array(result)
        result[result < threshold] = 0.0
        if result.ndim == 3:
            result = result[:, None]
        if result.shape[1] == 1:
            labels = (result[:, 0] != 0).astype(int) + 1
        else:
            labels = np.argmax(result, axis=1) + 1
        maps.append(_place_on_tile(labels, view.tile_size))
    return np.stack(maps, axis=1)


def _metadata(meta: dict) -> dict:
    """The scalar keys the dock widget reads, parsed as Deepness parses them."""
    parsers = {"model_type": lambda v: str(v).capitalize(), "resolution": float, "tile_size": int,
               "tiles_overlap": int}
    out = {}
    for key, parse in parsers.items():
        if key in meta:
            try:
                out[key] = parse(json.loads(meta[key]))
            except (ValueError, TypeError) as exc:
                raise DeepnessRefusedError(f"metadata {key}={meta[key]!r}: Deepness cannot parse it ({exc})") from None
    if "model_type" in out and out["model_type"] not in DEEPNESS_MODEL_TYPES:
        raise DeepnessRefusedError(f"model_type {out['model_type']!r} is not one of {DEEPNESS_MODEL_TYPES}")
    return out


def _output_classes(session) -> tuple[list[int], list[bool]]:
    classes, sigmoid = [], []
    for output in session.get_outputs():
        shape = list(output.shape)
        if len(shape) == 3:
            classes.append(2)
            sigmoid.append(True)
        elif len(shape) == 4:
            count = shape[-3]
            if not isinstance(count, int):
                raise DeepnessRefusedError(f"output {output.name} class dim {count!r} is symbolic: range() on it fails "
                                      "after every tile has run")
            classes.append(2 if count == 1 else count)
            sigmoid.append(count == 1)
        else:
            raise DeepnessRefusedError(f"output {output.name} shape {shape}: a Segmentor output is 3-d or 4-d")
    return classes, sigmoid


def _class_names(meta: dict) -> list[list[str]] | None:
    for key in ("class_names", "names"):
        if key not in meta:
            continue
        try:
            value = json.loads(meta[key])
        except json.JSONDecodeError:
            value = ast.literal_eval(meta[key])
        if isinstance(value, dict):
            value = [value]
        names = []
        for per_output in value:
            ordered = sorted(per_output.items(), key=lambda kv: int(kv[0]))
            if [int(k) for k, _ in ordered] != list(range(len(ordered))):
                raise DeepnessRefusedError(f"{key}: class ids are not consecutive from 0")
            names.append([v for _, v in ordered])
        return names
    return None


def _standardization(meta: dict, channels: int) -> tuple[np.ndarray, np.ndarray]:
    mean, std = np.zeros(channels, np.float32), np.ones(channels, np.float32)
    if "standardization_mean" in meta and "standardization_std" in meta:
        mean = np.array([float(v) for v in json.loads(meta["standardization_mean"])], np.float32)
        std = np.array([float(v) for v in json.loads(meta["standardization_std"])], np.float32)
        for name, values in (("mean", mean), ("std", std)):
            if len(values) not in (1, channels):
                raise DeepnessRefusedError(f"standardization_{name} has {len(values)} values for {channels} channels")
    return mean, std


def _place_on_tile(labels: np.ndarray, tile: int) -> np.ndarray:
    """An output smaller than the tile goes in its centre (TileParams.set_mask_on_full_img)."""
    out = labels.shape[-1]
    if out == tile:
        return labels
    offset = (tile - out) // 2
    if offset < 0:
        raise DeepnessRefusedError(f"output {out} px is larger than the {tile} px tile")
    if offset % 2:
        raise DeepnessRefusedError(f"output {out} px in a {tile} px tile: odd offset {offset}")
    placed = np.zeros(labels.shape[:-2] + (tile, tile), labels.dtype)
    placed[..., offset:offset + out, offset:offset + out] = labels
    return placed
