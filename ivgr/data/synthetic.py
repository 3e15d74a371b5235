"""A procedurally generated fine-grained visual world for the offline demo (`ivgr demo`).

In the spirit of V*/HR-Bench (arXiv 2605.31096, benchmarks): a cluttered canvas holds a few small objects
(shape, colour, size, position) and each question is about one or two of them. Every scene is
drawn from its own seed, so the world is deterministic, and the answers and target boxes come
from the scene graph, so they are exact: a target box is the bounding box of the pixels that
were painted for that object (in the pixel frame of the image as saved, which is already a
multiple of the model's visual-token side on each side, so smart-resize leaves it unchanged).
Boxes are written in the model's frame: `pixel` (Qwen2.5-VL) or `norm1000` (Qwen3-VL).

The world writes the same prepared-dataset layout as real data (`ivgr.data.prepared`), plus
grounded and textual reference CoTs in the SFT JSONL format (docs/CONTRACTS.md) for the
cold start (arXiv 2605.31096, cold-start SFT: mostly grounded CoTs, a few textual ones).

Pure python + Pillow + pydantic: no torch/transformers/trl at module level.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

logger = logging.getLogger(__name__)

# Saturated colours a tiny vision tower separates from the grey clutter at a glance.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 60, 220),
    "yellow": (235, 200, 20),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
QUESTION_TYPES: tuple[str, ...] = ("colour", "colour_choice", "relation", "shape", "colour_at", "colour_check")
# Position words that name an object by where it is: (centre axis, +1 for the largest coordinate).
EXTREMES: dict[str, tuple[int, int]] = {"leftmost": (0, -1), "rightmost": (0, 1), "topmost": (1, -1), "bottommost": (1, 1)}
DATASOURCE = "synthetic"


@dataclass(frozen=True)
class WorldConfig:
    """Settings of the synthetic world. Small defaults keep the tiny ViT cheap on a CPU."""

    canvas: int = 112
    """Side of the square canvas in pixels; a multiple of `cell` so smart-resize is the identity."""
    n_objects: int = 3
    """Objects per scene; each has a distinct shape so "the triangle" names one object."""
    min_size: int = 14
    """Smallest object side in pixels."""
    max_size: int = 22
    """Largest object side in pixels."""
    n_clutter: int = 14
    """Grey distractor strokes and dots drawn under the objects."""
    noise: int = 12
    """Amplitude of the per-pixel background noise (0 disables it)."""
    colours: tuple[str, ...] = tuple(COLOURS)
    shapes: tuple[str, ...] = SHAPES
    question_mix: dict[str, float] = field(
        default_factory=lambda: {"colour": 0.4, "colour_choice": 0.2, "relation": 0.2, "shape": 0.2}
    )
    """Relative frequency of each question type."""
    n_choices: int = 3
    """Options listed in a multiple-choice colour question (answer included)."""
    layout: str = "free"
    """`free`: objects anywhere; `grid`: one object per `cell`-px cell, i.e. per merged visual token."""
    cell: int = 28
    """Side of one merged visual token in pixels: 28 for Qwen2.5-VL (14-px patches), 32 for Qwen3-VL."""
    salient: bool = False
    """Only the asked-about object is coloured, the others are grey distractor shapes."""
    distinct_colours: bool = False
    """Every object of a scene has its own colour, so a colour answer says which object was read."""

    def __post_init__(self) -> None:
        from ivgr.errors import ConfigError

        if self.cell not in (28, 32):
            raise ConfigError(f"world.cell must be 28 (Qwen2.5-VL) or 32 (Qwen3-VL), got {self.cell}")
        if self.canvas % self.cell != 0 or self.canvas < 2 * self.cell:
            raise ConfigError(f"world.canvas must be a multiple of {self.cell} and >= {2 * self.cell}, got {self.canvas}")
        if not 2 <= self.n_objects <= len(self.shapes):
            raise ConfigError(
                f"world.n_objects must be in [2, {len(self.shapes)}] (one object per shape), got {self.n_objects}"
            )
        if not 4 <= self.min_size <= self.max_size <= self.canvas // 3:
            raise ConfigError(f"world sizes need 4 <= min_size <= max_size <= canvas/3, got {self.min_size}, {self.max_size}")
        unknown = set(self.question_mix) - set(QUESTION_TYPES)
        if unknown or not any(w > 0 for w in self.question_mix.values()):
            raise ConfigError(f"world.question_mix keys must be among {QUESTION_TYPES} with a positive weight, got {self.question_mix}")
        if not set(self.colours) <= set(COLOURS) or not set(self.shapes) <= set(SHAPES):
            raise ConfigError(f"world colours/shapes must come from {tuple(COLOURS)} / {SHAPES}")
        if self.distinct_colours and self.n_objects > len(self.colours):
            raise ConfigError(f"world.distinct_colours needs n_objects <= {len(self.colours)} colours, got {self.n_objects}")
        if not 2 <= self.n_choices <= len(self.colours):
            raise ConfigError(f"world.n_choices must be in [2, {len(self.colours)}], got {self.n_choices}")
        if self.layout not in ("free", "grid"):
            raise ConfigError(f"world.layout must be 'free' or 'grid', got {self.layout!r}")
        if self.layout == "grid" and self.max_size > self.cell - 2:
            raise ConfigError(f"world.layout grid needs max_size <= {self.cell - 2} (objects fit a {self.cell}-px cell), "
                              f"got {self.max_size}")


@dataclass(frozen=True)
class SceneObject:
    """One small object of the scene graph. `box` is the exact pixel bbox of its painted pixels."""

    shape: str
    colour: str
    x: int  # top-left of its square footprint
    y: int
    size: int
    box: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)


@dataclass(frozen=True)
class Scene:
    """A rendered scene: its objects and the question asked about it."""

    seed: int
    objects: tuple[SceneObject, ...]
    qtype: str
    question: str
    answer: str
    targets: tuple[int, ...]  # indices into `objects`, in the order the reasoning mentions them
    options: tuple[str, ...] = ()  # answer options the question lists (multiple choice)
    canvas: int = 112  # side of the canvas the boxes refer to
    place: str = ""  # the position word naming the target of a colour_at / colour_check question ("leftmost")


def scene_seed(seed: int, split: str, index: int) -> int:
    """A stable 63-bit seed per (world seed, split, index), independent of Python's hash salt."""
    digest = hashlib.sha256(f"{seed}/{split}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _polygon(shape: str, x: int, y: int, s: int) -> list[tuple[float, float]] | None:
    """Vertices of a polygonal shape in its s x s footprint at (x, y); None for a circle/square."""
    if shape == "triangle":
        return [(x + s / 2, y), (x + s - 1, y + s - 1), (x, y + s - 1)]
    if shape == "diamond":
        return [(x + s / 2, y), (x + s - 1, y + s / 2), (x + s / 2, y + s - 1), (x, y + s / 2)]
    return None


def paint_object(draw: ImageDraw.ImageDraw, obj: SceneObject, fill: Any) -> None:
    """Paint one object; the same routine draws the picture and the object's exact mask."""
    x, y, s = obj.x, obj.y, obj.size
    if obj.shape == "circle":
        draw.ellipse([x, y, x + s - 1, y + s - 1], fill=fill)
    elif obj.shape == "square":
        draw.rectangle([x, y, x + s - 1, y + s - 1], fill=fill)
    else:
        draw.polygon(_polygon(obj.shape, x, y, s), fill=fill)


def object_mask(obj: SceneObject, canvas: int) -> Image.Image:
    """Binary ("L") mask of the pixels `paint_object` paints for `obj`."""
    mask = Image.new("L", (canvas, canvas), 0)
    paint_object(ImageDraw.Draw(mask), obj, 255)
    return mask


def _with_exact_box(obj: SceneObject, canvas: int) -> SceneObject:
    """Return `obj` with `box` set to the bbox of its painted pixels ([x1, y1, x2, y2), x2/y2 exclusive)."""
    bbox = object_mask(obj, canvas).getbbox()
    assert bbox is not None, "an object of size >= 4 always paints pixels"
    return SceneObject(obj.shape, obj.colour, obj.x, obj.y, obj.size, tuple(int(v) for v in bbox))


GREY = "grey"
_GREY_RGB = (120, 120, 120)


def _rgb(colour: str) -> tuple[int, int, int]:
    return _GREY_RGB if colour == GREY else COLOURS[colour]


def _place_on_grid(rng: random.Random, cfg: WorldConfig, shapes: list[str]) -> tuple[SceneObject, ...]:
    """One object per cell (a merged visual token of Qwen-VL), centred with 1 px of jitter."""
    c = cfg.cell
    cells = cfg.canvas // c
    placed = []
    for shape, cell in zip(shapes, rng.sample(range(cells * cells), len(shapes))):
        size = rng.randint(cfg.min_size, cfg.max_size)
        left, top = (cell % cells) * c, (cell // cells) * c
        x = min(max(left, left + (c - size) // 2 + rng.randint(-1, 1)), left + c - size)
        y = min(max(top, top + (c - size) // 2 + rng.randint(-1, 1)), top + c - size)
        placed.append(_with_exact_box(SceneObject(shape, rng.choice(list(cfg.colours)), x, y, size), cfg.canvas))
    return tuple(placed)


def _place_objects(rng: random.Random, cfg: WorldConfig) -> tuple[SceneObject, ...]:
    """Distinct shapes, random colours, non-overlapping footprints with a 3 px gap.

    With `salient`, every object but the first is grey; `_ask` then asks about the first.
    """
    shapes = rng.sample(list(cfg.shapes), cfg.n_objects)
    objects = _place_on_grid(rng, cfg, shapes) if cfg.layout == "grid" else _place_free(rng, cfg, shapes)
    if cfg.distinct_colours:
        colours = rng.sample(list(cfg.colours), len(objects))
        objects = tuple(SceneObject(o.shape, c, o.x, o.y, o.size, o.box) for o, c in zip(objects, colours))
    if cfg.salient:
        objects = objects[:1] + tuple(SceneObject(o.shape, GREY, o.x, o.y, o.size, o.box) for o in objects[1:])
    return objects


def _place_free(rng: random.Random, cfg: WorldConfig, shapes: list[str]) -> tuple[SceneObject, ...]:
    placed: list[SceneObject] = []
    for shape in shapes:
        for _ in range(200):
            size = rng.randint(cfg.min_size, cfg.max_size)
            x = rng.randint(2, cfg.canvas - size - 2)
            y = rng.randint(2, cfg.canvas - size - 2)
            if all(x + size + 3 <= o.x or o.x + o.size + 3 <= x or y + size + 3 <= o.y or o.y + o.size + 3 <= y for o in placed):
                break
        else:  # pragma: no cover - the canvas is far larger than 4 objects
            raise RuntimeError("could not place objects; canvas too small for the object sizes")
        placed.append(_with_exact_box(SceneObject(shape, rng.choice(list(cfg.colours)), x, y, size), cfg.canvas))
    return tuple(placed)


def _ask(rng: random.Random, cfg: WorldConfig,
         objects: tuple[SceneObject, ...]) -> tuple[str, str, str, tuple[int, ...], tuple[str, ...], str]:
    """Pick a question type by the mix and phrase (qtype, question, answer, targets, options, place)."""
    kinds = [k for k in QUESTION_TYPES if cfg.question_mix.get(k, 0) > 0]
    qtype = rng.choices(kinds, weights=[cfg.question_mix[k] for k in kinds])[0]
    colour_counts = Counter(o.colour for o in objects)
    if qtype == "shape" and not cfg.salient and not any(n == 1 for n in colour_counts.values()):
        qtype = "colour"  # no colour names a unique object; ask about colour instead
    if qtype == "relation":
        i, j = rng.sample(range(len(objects)), 2)
        a, b = objects[i], objects[j]
        if a.centre[0] == b.centre[0]:
            qtype = "colour"
        else:
            answer = "left" if a.centre[0] < b.centre[0] else "right"
            return qtype, f"Is the {a.shape} left or right of the {b.shape}?", answer, (i, j), ("left", "right"), ""
    if qtype in ("colour_at", "colour_check"):
        named = _extreme_objects(objects, margin=cfg.cell / 2 if cfg.layout == "grid" else 6)
        if named:
            word = rng.choice(sorted(named))
            colour = objects[named[word]].colour
            if qtype == "colour_at":
                return qtype, f"What colour is the {word} object?", colour, (named[word],), (), word
            # Half the questions name the target's own colour. A "no" is right for 2 of the 3 wrong
            # colours a careless look could report: the answer alone rewards some wrong readings.
            asked = colour if rng.random() < 0.5 else rng.choice([c for c in cfg.colours if c != colour])
            return (qtype, f"Is the {word} object {asked}?", "yes" if asked == colour else "no", (named[word],),
                    ("yes", "no"), word)
        qtype = "colour"  # no object stands out on any side (not reachable on a grid with distinct cells)
    if qtype == "shape":
        i = 0 if cfg.salient else rng.choice([k for k, o in enumerate(objects) if colour_counts[o.colour] == 1])
        return qtype, f"What shape is the {objects[i].colour} object?", objects[i].shape, (i,), (), ""
    i = 0 if cfg.salient else rng.randrange(len(objects))
    target = objects[i]
    if qtype == "colour_choice":
        others = rng.sample([c for c in cfg.colours if c != target.colour], cfg.n_choices - 1)
        options = [target.colour, *others]
        rng.shuffle(options)
        return (qtype, f"What colour is the {target.shape}? Choose from: {', '.join(options)}.", target.colour, (i,),
                tuple(options), "")
    return "colour", f"What colour is the {target.shape}?", target.colour, (i,), (), ""


def _extreme_objects(objects: tuple[SceneObject, ...], *, margin: float) -> dict[str, int]:
    """Position word -> index of the object that is clearly the most extreme that way (by `margin` px)."""
    named = {}
    for word, (axis, sign) in EXTREMES.items():
        order = sorted(range(len(objects)), key=lambda k: sign * objects[k].centre[axis], reverse=True)
        first, second = (sign * objects[k].centre[axis] for k in order[:2])
        if first - second >= margin:
            named[word] = order[0]
    return named


def _background(rng: random.Random, cfg: WorldConfig) -> Image.Image:
    """Light grey canvas with per-pixel noise and grey strokes/dots (clutter, never coloured)."""
    image = Image.new("RGB", (cfg.canvas, cfg.canvas), (200, 200, 200))
    if cfg.noise > 0:
        noise = bytes(200 + rng.randint(-cfg.noise, cfg.noise) for _ in range(cfg.canvas * cfg.canvas))
        grey = Image.frombytes("L", (cfg.canvas, cfg.canvas), noise)
        image = Image.merge("RGB", (grey, grey, grey))
    draw = ImageDraw.Draw(image)
    for _ in range(cfg.n_clutter):
        tone = rng.randint(90, 170)
        x, y = rng.randrange(cfg.canvas), rng.randrange(cfg.canvas)
        if rng.random() < 0.5:
            draw.line([x, y, x + rng.randint(-14, 14), y + rng.randint(-14, 14)], fill=(tone,) * 3, width=1)
        else:
            r = rng.randint(1, 3)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=(tone,) * 3)
    return image


def make_scene(seed: int, cfg: WorldConfig) -> tuple[Scene, Image.Image]:
    """Build and render one scene from its seed (same seed -> same scene and same pixels)."""
    rng = random.Random(seed)
    objects = _place_objects(rng, cfg)
    qtype, question, answer, targets, options, place = _ask(rng, cfg, objects)
    image = _background(rng, cfg)
    draw = ImageDraw.Draw(image)
    for obj in objects:  # drawn last, so no clutter covers an object
        paint_object(draw, obj, _rgb(obj.colour))
    return Scene(seed, objects, qtype, question, answer, targets, options, cfg.canvas, place), image


def box_text(box: tuple[int, int, int, int]) -> str:
    """`<box>[x1,y1,x2,y2]</box>` with integers and no spaces (the authors' box parser needs that)."""
    return "<box>[" + ",".join(str(int(v)) for v in box) + "]</box>"


def frame_box(box: tuple[int, int, int, int], canvas: int, frame: str) -> tuple[int, int, int, int]:
    """A canvas-pixel box in the model's frame, as integers: `pixel` as is, `norm1000` scaled to 0-1000."""
    if frame == "pixel":
        return box
    from ivgr.geometry import to_frame

    return tuple(int(round(v)) for v in to_frame(box, src="pixel", dst=frame, width=canvas, height=canvas))


def _reasoning(scene: Scene, box) -> str:
    """The scene graph's reasoning for its question; `box(obj)` is the text after each object's name."""
    objs = [scene.objects[i] for i in scene.targets]
    if scene.qtype == "relation":
        a, b = objs
        return (f"the {a.shape}{box(a)} is {_side(a, scene.canvas)} . the {b.shape}{box(b)} is {_side(b, scene.canvas)} . "
                f"so the {a.shape} is {scene.answer} of the {b.shape} .")
    if scene.qtype == "shape":
        return f"the {objs[0].colour} object{box(objs[0])} is a {objs[0].shape} ."
    if scene.qtype in ("colour_at", "colour_check"):
        # Where the target lies along the axis the question does not name: a fact the textual
        # stream can only state by finding the object, so consistency with a grounded reference
        # checks the finding as well as the reading (docs/DEMO_RESULTS.md, probes P12-P16).
        return f"the {scene.place} object{box(objs[0])} {_across(objs[0], scene.place, scene.canvas)} is {objs[0].colour} ."
    return f"the {objs[0].shape}{box(objs[0])} is {objs[0].colour} ."


def grounded_cot(scene: Scene, frame: str = "pixel") -> str:
    """Reference grounded CoT: every object mentioned carries its exact box (in `frame`), then the answer."""
    think = _reasoning(scene, lambda obj: " " + box_text(frame_box(obj.box, scene.canvas, frame)))
    return f"<think>{think}</think><answer>{scene.answer}</answer>"


# Deviation: cold-start CoTs come from the scene graph, not from Qwen2.5-VL-72B / TreeVGR-SFT
# (the paper's cold start; no model hub offline); textual CoT = grounded CoT without boxes; option textual_fraction.
def textual_cot(scene: Scene) -> str:
    """Reference textual CoT: the same reasoning as `grounded_cot` without the boxes."""
    return f"<think>{_reasoning(scene, lambda obj: '')}</think><answer>{scene.answer}</answer>"


def _across(obj: SceneObject, place: str, canvas: int) -> str:
    """Where a position-named target lies along the axis its place word does not name."""
    if place in ("leftmost", "rightmost"):
        return ("at the top", "in the middle", "at the bottom")[min(2, int(3 * obj.centre[1] / canvas))]
    return _side(obj, canvas)


def _side(obj: SceneObject, canvas: int) -> str:
    """Coarse horizontal position words used in relation reasoning (left / middle / right)."""
    return ("on the left", "in the middle", "on the right")[min(2, int(3 * obj.centre[0] / canvas))]


def chance_accuracy(scenes: list[Scene], cfg: WorldConfig) -> float:
    """Expected accuracy of uniform guessing over each question's answer space, averaged over `scenes`.

    colour: 1/|colours|; colour_choice: 1/n_choices; relation: 1/2; shape: 1/|shapes|.
    """
    if not scenes:
        return 0.0
    per_type = {"colour": 1 / len(cfg.colours), "colour_choice": 1 / cfg.n_choices, "relation": 0.5,
                "shape": 1 / len(cfg.shapes), "colour_at": 1 / len(cfg.colours), "colour_check": 0.5}
    return sum(per_type[s.qtype] for s in scenes) / len(scenes)


def scene_to_sample(scene: Scene, image_rel: str, cfg: WorldConfig, split: str, index: int, world_seed: int,
                    frame: str = "pixel"):
    """The `Sample` row of one scene, target boxes in `frame`."""
    from ivgr.data.schema import Sample

    return Sample(
        sample_id=f"synth-s{world_seed}-{split}-{index:05d}",
        image=image_rel,
        question=scene.question,
        answer=scene.answer,
        target_boxes=[tuple(float(v) for v in frame_box(scene.objects[i].box, cfg.canvas, frame)) for i in scene.targets],
        frame=frame,
        image_size=(cfg.canvas, cfg.canvas),
        datasource=DATASOURCE,
        kind="paired",
        meta={"qtype": scene.qtype, "scene_seed": scene.seed, "options": list(scene.options),
              "objects": [asdict(o) for o in scene.objects], "split": split},
    )


def generate(out_dir: str | Path, *, n: int, seed: int, split: str, cfg: WorldConfig | None = None,
             frame: str = "pixel") -> dict[str, Any]:
    """Write `n` scenes of `split` as a prepared dataset at `out_dir` (same layout as real data), boxes in `frame`.

    Returns a summary: {"dir", "count", "chance_accuracy", "qtypes"}.
    """
    from ivgr.data.prepared import write_prepared

    cfg = cfg or WorldConfig()
    scenes, samples, images = [], [], {}
    for index in range(n):
        scene, image = make_scene(scene_seed(seed, split, index), cfg)
        rel = f"images/{split}_{index:05d}.png"
        scenes.append(scene)
        samples.append(scene_to_sample(scene, rel, cfg, split, index, seed, frame))
        images[rel] = image
    qtypes = Counter(s.qtype for s in scenes)
    manifest = {
        "frame": frame, "min_pixels": 4 * cfg.cell * cfg.cell, "max_pixels": cfg.canvas * cfg.canvas,
        "source": "ivgr.data.synthetic", "world_seed": seed, "split": split,
        "world": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
        "chance_accuracy": chance_accuracy(scenes, cfg), "qtypes": dict(qtypes),
    }
    write_prepared(out_dir, samples, images, manifest)
    logger.info("wrote %d %s scenes to %s", n, split, out_dir)
    return {"dir": str(out_dir), "count": n, "chance_accuracy": manifest["chance_accuracy"], "qtypes": dict(qtypes)}


def scenes_of(samples: list, cfg: WorldConfig | None = None) -> list[Scene]:
    """Rebuild the scene graphs of synthetic samples from their stored scene seeds."""
    cfg = cfg or WorldConfig()
    return [make_scene(int(s.meta["scene_seed"]), cfg)[0] for s in samples]


def write_sft_jsonl(path: str | Path, dataset_dir: str | Path, *, textual_fraction: float = 0.1,
                    seed: int = 0, cfg: WorldConfig | None = None, frame: str = "pixel",
                    prompt_style: str = "standard") -> dict[str, int]:
    """Write cold-start SFT examples (SFT JSONL, docs/CONTRACTS.md) for a synthetic prepared dataset.

    Every scene gives one grounded example; a `textual_fraction` of them also gives a textual
    one (arXiv 2605.31096, cold-start SFT: 32K grounded + 3K textual, so about 10% textual). Prompts are in
    `prompt_style` (`ivgr.prompts`). Image paths are absolute, so the file is usable from any
    working directory.
    """
    from ivgr.data.prepared import read_prepared
    from ivgr.prompts import stream_prompt

    dataset_dir = Path(dataset_dir).resolve()
    samples = read_prepared(dataset_dir)
    scenes = scenes_of(samples, cfg)
    rng = random.Random(seed)
    counts = Counter()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for sample, scene in zip(samples, scenes, strict=True):
            image = str((dataset_dir / sample.image).resolve())
            rows = [("grounded", grounded_cot(scene, frame))]
            if rng.random() < textual_fraction:
                rows.append(("textual", textual_cot(scene)))
            for stream, completion in rows:
                row = {"sample_id": sample.sample_id, "stream": stream, "image": image,
                       "prompt": stream_prompt(stream, sample.question, frame=frame, style=prompt_style), "completion": completion,
                       "question": sample.question, "answer": sample.answer}
                handle.write(json.dumps(row) + "\n")
                counts[stream] += 1
    return dict(counts)


def world_vocabulary(cfg: WorldConfig | None = None) -> list[str]:
    """Every word the world's questions and CoTs use, plus the integers 0..canvas (box coordinates)."""
    cfg = cfg or WorldConfig()
    words = set(cfg.colours) | set(cfg.shapes) | set(EXTREMES) | {"left", "right", "middle", "top", "bottom", "at", "object",
                                                                   "choose", "from"}
    words |= {"what", "colour", "is", "the", "of", "or", "shape", "a", "so", "on", "in", "choose", "from"}
    if cfg.question_mix.get("colour_check", 0) > 0:
        words |= {"yes", "no"}  # only then: a word more shifts every token id, and with it the model's init
    return sorted(words) + [str(i) for i in range(cfg.canvas + 1)]


__all__ = [
    "COLOURS", "SHAPES", "QUESTION_TYPES", "WorldConfig", "Scene", "SceneObject", "make_scene",
    "object_mask", "grounded_cot", "textual_cot", "chance_accuracy", "generate", "write_sft_jsonl",
    "scenes_of", "scene_seed", "world_vocabulary", "box_text",
]
