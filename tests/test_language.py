"""The language side of the real model, its words: COCO classes (WordNet, MiniLM), colours and shades, garments
and parts, read into ExpressionQuery by spaCy; places, motion, counts and odd text are test_language_reading.py's."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from derrvos_core.errors import InputError
from derrvos_core.language.coco import COCO_CLASSES, COCO_SYNSETS, class_id
from derrvos_core.language.colours import (
    PALETTE_HEX,
    SYNONYM_HEX,
    colour_term,
    hex_to_lab,
    shaded,
    srgb_to_lab,
)
from derrvos_core.language.loader import MissingLanguagePart, load_language_parts
from tests.helpers_language import classes, spatial


# --- COCO classes and colours (no language parts needed) ---------------------------------------

def test_coco_classes_are_the_80_in_detector_order():
    assert len(COCO_CLASSES) == 80 and len(set(COCO_CLASSES)) == 80
    assert COCO_CLASSES[:9] == ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
                                "boat")
    assert class_id("dog") == 16 and class_id("tv") == 62 and class_id("toothbrush") == 79
    assert set(COCO_SYNSETS) == set(COCO_CLASSES)
    with pytest.raises(InputError, match="not one of the 80"):
        class_id("tree")


def test_srgb_to_lab_matches_known_values():
    lab = srgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 0, 255]], dtype=np.uint8))
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.02)
    np.testing.assert_allclose(lab[3], [32.30, 79.19, -107.86], atol=0.02)
    assert srgb_to_lab(np.zeros((4, 5, 3))).shape == (4, 5, 3)


def test_palette_is_the_xkcd_survey_colours_matplotlib_ships():
    from matplotlib.colors import XKCD_COLORS
    assert len(PALETTE_HEX) >= 13
    for name, code in PALETTE_HEX.items():
        assert XKCD_COLORS[f"xkcd:{name}"] == code, name
    for word, (name, survey_name, code) in SYNONYM_HEX.items():
        assert name in PALETTE_HEX
        assert XKCD_COLORS[f"xkcd:{survey_name}"] == code, word


def test_colour_terms_synonyms_and_shades():
    assert colour_term("gray") == colour_term("grey")
    assert colour_term("navy").name == "blue" and colour_term("navy").lab[0] < colour_term("blue").lab[0]
    dark = colour_term("dark")
    assert dark.name == "dark" and not dark.hue_matters and dark.lab[0] < 30
    assert colour_term("jacket") is None
    blue = hex_to_lab(PALETTE_HEX["blue"])
    assert shaded(blue, "dark")[0] < blue[0] < shaded(blue, "light")[0]
    red, green = np.array(colour_term("red").lab), np.array(colour_term("green").lab)
    assert np.linalg.norm(red - green) > 50  # neighbouring names are tens of delta E apart


def test_missing_wordnet_names_the_install_command(tmp_path):
    with pytest.raises(MissingLanguagePart, match="apt-get install wordnet-base"):
        load_language_parts(wordnet_dir=tmp_path)


def test_import_loads_no_language_parts():
    code = ("import sys, derrvos_core.language; "
            "print(sorted(m for m in ('spacy', 'nltk', 'torch', 'sentence_transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the target's classes ---------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("the man", ["person"]), ("a woman", ["person"]), ("the kid", ["person"]), ("the boy", ["person"]),
    ("the lady", ["person"]), ("the pedestrian", ["person"]), ("the cyclist", ["person"]),
    ("the rider", ["person"]), ("the player", ["person"]), ("the guy", ["person"]),
    ("the dog", ["dog"]), ("the puppy", ["dog"]), ("the automobile", ["car"]), ("the bike", ["bicycle", "motorcycle"]),
    ("the teddy bear", ["teddy bear"]), ("the fire hydrant", ["fire hydrant"]), ("the tv", ["tv"]),
])
def test_head_nouns_map_onto_coco_classes(parser, text, expected):
    query = parser.parse(text)
    assert classes(query) == expected and query.unknown_noun is None


def test_van_is_car_or_truck(parser):
    query = parser.parse("the white van")
    assert set(classes(query)) == {"car", "truck"} and all(c.weight < 1 for c in query.classes)
    assert [c.name for c in query.colours] == ["white"] and query.colours[0].part is None


@pytest.mark.parametrize("text, expected", [
    ("the pony", "horse"), ("the sedan", "car"), ("the kayak", "boat"), ("the motorcyclist", "person"),
    ("the duck", "bird"), ("the kitten", "cat"), ("the jockey", "person"), ("the minibus", "bus"),
])
def test_wordnet_hypernyms_map_nouns_outside_the_table(parser, text, expected):
    query = parser.parse(text)
    assert expected in classes(query), (text, query.classes)


def test_broad_nouns_map_onto_every_class_below_them(parser):
    animal = parser.parse("the animal closest to the camera")
    assert {"dog", "cat", "horse", "bird", "zebra"} <= set(classes(animal)) and "person" not in classes(animal)
    assert spatial(animal) == [("near", 1)]


def test_words_wordnet_does_not_know_fall_back_on_minilm(parser):
    query = parser.parse("the doggo")
    assert classes(query)[0] == "dog" and query.classes[0].source == "encoder"
    assert parser.parse("the asdfgh").classes == ()


def test_nouns_that_are_no_coco_class_are_reported(parser):
    for text, noun in [("the tree", "tree"), ("the monkey", "monkey"), ("a deer", "deer")]:
        query = parser.parse(text)
        assert query.classes == () and query.unknown_noun == noun


def test_generic_heads_leave_the_class_open(parser):
    query = parser.parse("the one on the left")
    assert query.classes == () and query.unknown_noun is None and spatial(query) == [("left", None)]
    assert parser.parse("moving to the left").head_noun is None


@pytest.mark.parametrize("text, expected", [
    ("the men", ["person"]), ("the women", ["person"]), ("the people", ["person"]), ("the persons", ["person"]),
    ("the children", ["person"]), ("the kids", ["person"]), ("the cars", ["car"]),
    ("the vans", ["car", "truck"]), ("the bikes", ["bicycle", "motorcycle"]), ("the dogs", ["dog"]),
    ("the geese", ["bird"]), ("the mice", ["mouse"]), ("the bikers", ["person"]), ("the cows", ["cow"]),
    ("the vases", ["vase"]),  # spaCy's lemma is "vas"
    ("the taxis", ["car"]), ("the sofas", ["couch"]),  # spaCy tags these NN and leaves them as written
    ("the teddy bears", ["teddy bear"]), ("two fire hydrants on the left", ["fire hydrant"]),
])
def test_plural_head_nouns_map_like_singulars(parser, text, expected):
    query = parser.parse(text)
    assert classes(query) == expected and query.unknown_noun is None, query
    assert query.count.kind in {"several", "exact"}


def test_plural_men_is_not_the_work_force(parser):
    # "men" is also a WordNet noun of its own (the work force); the singular is far commoner.
    query = parser.parse("the two men standing and talking next to the sign")
    assert query.head_noun == "man" and classes(query) == ["person"] and query.unknown_noun is None
    assert (query.count.kind, query.count.n) == ("exact", 2)
    men = parser.parse("the men on the left")
    assert classes(men) == ["person"] and men.count.kind == "several" and spatial(men) == [("left", None)]


def test_plural_that_is_a_noun_of_its_own_keeps_its_sense(parser):
    query = parser.parse("the glasses on the table")  # spectacles, not wine glasses
    assert query.head_noun == "glasses" and "wine glass" not in classes(query)


def test_plural_the_tagger_takes_for_a_name_still_counts_several(parser):
    query = parser.parse("the geese on the left")  # tagged NNP, lemma "geese"
    assert query.head_noun == "goose" and classes(query) == ["bird"] and query.count.kind == "several"


# --- colours ----------------------------------------------------------------------------------

def test_colour_of_a_garment(parser):
    query = parser.parse("the man in the pink jacket")
    assert classes(query) == ["person"]
    (pink,) = query.colours
    assert (pink.name, pink.part, pink.region) == ("pink", "jacket", "upper")
    assert query.ignored == () and query.related == ()


def test_colours_of_several_parts_and_shades(parser):
    query = parser.parse("the man with a red hat and blue jeans")
    assert [(c.name, c.part, c.region) for c in query.colours] == [("red", "hat", "upper"),
                                                                    ("blue", "jeans", "lower")]
    dark = parser.parse("the dark blue car on the right").colours[0]
    assert dark.shade == "dark" and dark.lab[0] < colour_term("blue").lab[0]
    assert parser.parse("the woman in the light blue dress").colours[0].shade == "light"


@pytest.mark.parametrize("text, parts", [
    ("the man in the black shirt and white helmet", [("black", "shirt"), ("white", "helmet")]),
    ("the woman in a white shirt and black pants", [("white", "shirt"), ("black", "pants")]),
])
def test_coordinated_garments_are_one_target(parser, text, parts):
    # The tagger joins the second garment to the head noun; it still describes the one person.
    query = parser.parse(text)
    assert classes(query) == ["person"] and (query.count.kind, query.count.n) == ("one", 1)
    assert [(c.name, c.part) for c in query.colours] == parts and query.ignored == ()


@pytest.mark.parametrize("text, expected", [
    ("the man and the dog", ["person", "dog"]), ("the bicycle and the bollard", ["bicycle"]),
    ("the man and the backpack", ["person", "backpack"]),  # a part named beside the head, not after "in"/"with"
])
def test_coordinated_head_nouns_are_several_targets(parser, text, expected):
    query = parser.parse(text)
    assert classes(query) == expected and (query.count.kind, query.count.n) == ("exact", 2)


def test_colour_words_alone_and_together(parser):
    assert [(c.name, c.part) for c in parser.parse("the man in black").colours] == [("black", None)]
    both = parser.parse("the black and white dog")
    assert [c.name for c in both.colours] == ["black", "white"] and classes(both) == ["dog"]
    dark = parser.parse("the dark car").colours[0]
    assert dark.name == "dark" and not dark.hue_matters


def test_negated_colour(parser):
    query = parser.parse("the car that is not red")
    assert query.colours[0].name == "red" and query.colours[0].negated
    assert query.negated == ("not red",)


def test_colour_of_another_object_is_not_the_targets(parser):
    query = parser.parse("the dog next to the red car")
    assert classes(query) == ["dog"] and query.colours == ()
    (car,) = query.related
    assert (car.relation, car.noun, [c.name for c in car.colours]) == ("next to", "car", ["red"])


def test_traffic_light_is_no_colour(parser):
    query = parser.parse("the traffic light")
    assert classes(query) == ["traffic light"] and query.colours == ()
