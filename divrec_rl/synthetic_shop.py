"""The built-in synthetic shop: e-commerce products with readable titles and a long tail.

Each product has a category, a brand, one or two attributes and a price band.  Its title is built
from those parts ("Northwind Wireless Noise-cancelling Headphones, premium"), so a language model
could read it, and its embedding is built from the same parts:

    e_i = normalise(1.0·c_cat + 0.45·b_brand + 0.3·Σ a_attr + 0.2·p_band + 0.5·ε_i)

with ``c``, ``b``, ``a``, ``p`` random unit vectors and ``ε_i ~ N(0, I/d)`` noise, so items of one
category cluster, brands and attributes cut across them.  Popularity follows a Zipf law over a
random item ranking, scaled by a per-category appeal, ``pop_i = N_logs · appeal_cat · r_i^(-α)``,
which gives the long tail recommenders are criticised for.  Everything is a pure function of the
seed; no download.
"""

from __future__ import annotations

import numpy as np

from divrec_rl.catalog import Catalog, normalise_rows

# (category, product nouns, attributes).  Twenty categories of an online department store.
_CATEGORIES: list[tuple[str, list[str], list[str]]] = [
    (
        "Electronics",
        ["Headphones", "Speaker", "Charger", "Smartwatch", "Power Bank"],
        ["Wireless", "Noise-cancelling", "Waterproof", "Fast-charging", "Compact"],
    ),
    (
        "Books",
        ["Novel", "Cookbook", "Biography", "Travel Guide", "Poetry Collection"],
        ["Hardcover", "Illustrated", "Bestselling", "Annotated", "Large-print"],
    ),
    (
        "Kitchen",
        ["Chef Knife", "Frying Pan", "Blender", "Kettle", "Cutting Board"],
        ["Stainless", "Non-stick", "Cast-iron", "Bamboo", "Dishwasher-safe"],
    ),
    (
        "Outdoor",
        ["Tent", "Backpack", "Sleeping Bag", "Camping Stove", "Headlamp"],
        ["Ultralight", "Weatherproof", "Two-person", "Insulated", "Packable"],
    ),
    (
        "Fashion",
        ["Jacket", "Sneakers", "Scarf", "Jeans", "Sunglasses"],
        ["Slim-fit", "Vintage", "Organic Cotton", "Leather", "Oversized"],
    ),
    (
        "Beauty",
        ["Face Serum", "Lipstick", "Shampoo", "Moisturiser", "Perfume"],
        ["Vegan", "Fragrance-free", "Hydrating", "Matte", "Travel-size"],
    ),
    (
        "Toys",
        ["Building Set", "Puzzle", "Plush Bear", "Board Game", "Remote Car"],
        ["Educational", "Wooden", "Glow-in-the-dark", "Family", "Collectible"],
    ),
    (
        "Sports",
        ["Yoga Mat", "Dumbbells", "Running Shorts", "Tennis Racket", "Football"],
        ["Anti-slip", "Adjustable", "Breathable", "Pro", "Lightweight"],
    ),
    (
        "Garden",
        ["Hose", "Pruning Shears", "Planter", "Seed Kit", "Bird Feeder"],
        ["Expandable", "Self-watering", "Heirloom", "Rust-proof", "Solar"],
    ),
    (
        "Home Decor",
        ["Table Lamp", "Cushion", "Wall Clock", "Vase", "Rug"],
        ["Minimalist", "Handmade", "Velvet", "Scandinavian", "Ceramic"],
    ),
    (
        "Pet Supplies",
        ["Dog Bed", "Cat Tree", "Leash", "Pet Fountain", "Chew Toy"],
        ["Orthopedic", "Reflective", "Durable", "Washable", "Automatic"],
    ),
    (
        "Grocery",
        ["Coffee Beans", "Olive Oil", "Green Tea", "Dark Chocolate", "Granola"],
        ["Organic", "Fair-trade", "Single-origin", "Gluten-free", "Family-size"],
    ),
    (
        "Office",
        ["Notebook", "Desk Organiser", "Fountain Pen", "Monitor Stand", "Planner"],
        ["Dotted", "Ergonomic", "Refillable", "Recycled", "Undated"],
    ),
    (
        "Computers",
        ["Laptop Sleeve", "Mechanical Keyboard", "Mouse", "USB Hub", "Webcam"],
        ["RGB", "Low-profile", "Ergonomic", "4K", "Bluetooth"],
    ),
    (
        "Gaming",
        ["Controller", "Gaming Headset", "Game Chair", "Mouse Pad", "Capture Card"],
        ["Wireless", "Surround", "Extended", "Pro", "Hall-effect"],
    ),
    (
        "Music",
        ["Acoustic Guitar", "Ukulele", "Keyboard Stand", "Guitar Strings", "Metronome"],
        ["Beginner", "Solid-top", "Nickel-wound", "Digital", "Folding"],
    ),
    (
        "Baby",
        ["Stroller", "Baby Monitor", "Bottle Set", "Play Mat", "Carrier"],
        ["Foldable", "BPA-free", "Night-vision", "Ergonomic", "Soft"],
    ),
    (
        "Automotive",
        ["Dash Cam", "Car Vacuum", "Phone Mount", "Tyre Inflator", "Seat Cover"],
        ["Magnetic", "Cordless", "Digital", "Universal", "Heated"],
    ),
    (
        "Health",
        ["Vitamin D", "Protein Powder", "Massage Gun", "Thermometer", "First Aid Kit"],
        ["Plant-based", "Unflavoured", "Quiet", "Infrared", "Compact"],
    ),
    (
        "Tools",
        ["Cordless Drill", "Screwdriver Set", "Tape Measure", "Spirit Level", "Toolbox"],
        ["Brushless", "Magnetic", "Laser", "Heavy-duty", "Precision"],
    ),
]
_BRAND_STEMS = [
    "North",
    "Blue",
    "Oak",
    "Nova",
    "Peak",
    "Silver",
    "Bright",
    "Urban",
    "True",
    "Iron",
    "Maple",
    "Swift",
    "Terra",
    "Lumen",
    "Vista",
    "Echo",
    "Cedar",
    "Polar",
]
_BRAND_TAILS = ["wind", "field", "craft", "line", "works", "nest", "forge", "wave", "stone", "lab"]
_PRICE_BANDS = ["budget", "mid-range", "premium"]


def available_categories() -> int:
    """Most categories the synthetic shop can generate."""
    return len(_CATEGORIES)


def _item_categories(rng: np.random.Generator, n_items: int, n_categories: int) -> np.ndarray:
    """Category of each item, in random order; two draws from ``rng`` (sizes, then order).

    Category sizes vary (some departments are bigger), every category gets at least 2 items.
    """
    share = rng.dirichlet(np.full(n_categories, 4.0))
    sizes = np.maximum(2, np.floor(share * n_items).astype(int))
    while sizes.sum() > n_items:
        sizes[np.argmax(sizes)] -= 1
    sizes[np.argmax(share)] += n_items - sizes.sum()
    category = np.repeat(np.arange(n_categories), sizes)
    return category[rng.permutation(n_items)]


def _item_text(
    category: tuple[str, list[str], list[str]],
    brand: str,
    noun: int,
    attr1: int,
    attr2: int | None,
    band: int,
) -> str:
    """``"<brand> <attr1> [<attr2>] <noun>, <price band> — <category>"``."""
    name, nouns, attrs = category
    parts = [brand, attrs[attr1]]
    if attr2 is not None:
        parts.append(attrs[attr2])
    parts.append(nouns[noun])
    return f"{' '.join(parts)}, {_PRICE_BANDS[band]} — {name}"


def generate_synthetic_shop(
    n_items: int = 2000,
    n_categories: int = 20,
    embedding_dim: int = 32,
    popularity_exponent: float = 1.1,
    n_brands_per_category: int = 8,
    seed: int = 0,
) -> Catalog:
    """Generate the synthetic shop catalogue; a pure function of its arguments.

    ``popularity_exponent`` is the Zipf exponent α of ``pop ∝ rank^(-α)``; ``quality`` is drawn
    as N(0, 0.5²) in logit units.
    """
    if not 1 <= n_categories <= len(_CATEGORIES):
        raise ValueError(
            f"catalog.n_categories: must be in [1, {len(_CATEGORIES)}], got {n_categories}"
        )
    if n_items < 2 * n_categories:
        # Every category gets at least 2 items (_item_categories); fewer would leave some empty.
        raise ValueError(
            f"catalog.n_items: must be at least 2 × catalog.n_categories = {2 * n_categories} "
            f"(two items per category), got {n_items}"
        )
    rng = np.random.default_rng(seed)
    cats = _CATEGORIES[:n_categories]
    d = embedding_dim

    def unit(n: int) -> np.ndarray:
        return normalise_rows(rng.standard_normal((n, d)))

    cat_vec = unit(n_categories)
    brand_vec = unit(n_categories * n_brands_per_category)
    attr_vec = unit(n_categories * 5)
    band_vec = unit(len(_PRICE_BANDS))
    brand_names = [
        f"{_BRAND_STEMS[j % len(_BRAND_STEMS)]}{_BRAND_TAILS[(j * 7 + j // 3) % len(_BRAND_TAILS)]}"
        for j in range(n_categories * n_brands_per_category)
    ]

    category = _item_categories(rng, n_items, n_categories)

    brand = category * n_brands_per_category + rng.integers(0, n_brands_per_category, n_items)
    noun = rng.integers(0, 5, n_items)
    attr1 = rng.integers(0, 5, n_items)
    has_attr2 = rng.random(n_items) < 0.5
    attr2 = (attr1 + rng.integers(1, 5, n_items)) % 5
    band = rng.integers(0, len(_PRICE_BANDS), n_items)

    emb = (
        1.0 * cat_vec[category]
        + 0.45 * brand_vec[brand]
        + 0.3 * attr_vec[category * 5 + attr1]
        + 0.3 * has_attr2[:, None] * attr_vec[category * 5 + attr2]
        + 0.2 * band_vec[band]
        + 0.5 * rng.standard_normal((n_items, d)) / np.sqrt(d)
    )
    embeddings = normalise_rows(emb).astype(np.float32)

    second = [int(a) if h else None for a, h in zip(attr2, has_attr2, strict=True)]
    texts = [
        _item_text(cats[c], brand_names[b], n, a, a2, p)
        for c, b, n, a, a2, p in zip(category, brand, noun, attr1, second, band, strict=True)
    ]

    appeal = rng.lognormal(mean=0.0, sigma=0.5, size=n_categories)
    rank = rng.permutation(n_items) + 1
    popularity = 50_000 * appeal[category] * rank.astype(np.float64) ** (-popularity_exponent)
    popularity = np.floor(popularity / popularity.min()).astype(np.float64) - 1.0

    weights = np.zeros((n_items, n_categories), dtype=np.float32)
    weights[np.arange(n_items), category] = 1.0
    return Catalog(
        item_ids=np.arange(n_items, dtype=np.int64),
        texts=texts,
        category_names=[c[0] for c in cats],
        category_weights=weights,
        popularity=popularity,
        embeddings=embeddings,
        quality=(0.5 * rng.standard_normal(n_items)).astype(np.float32),
    )
