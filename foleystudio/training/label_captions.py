"""Natural captions from the open corpus manifest's heuristic labels.

The manifest (``shared/corpus/train_manifest.tsv``) gives each clip three terse fields derived from
its file and folder names: ``label`` ("arrow metal", "fs grass", "swordman die"), ``context`` (the
folder: "impact", "singlesteps", "spearman") and comma-separated rough ``categories`` ("impacts/hits,
weapons"). A text encoder learns far better from the kind of sentence a user types into a prompt
("an arrow hitting metal", "footsteps on grass", "a swordman dying"), so this module rewrites them.

Design: a small, ordered list of rules, each for a pattern that is common in the real labels
(checked against ``cut -f3-5 train_manifest.tsv | sort | uniq -c | sort -rn``), then a general
fallback (article + noun phrase). Rules are deliberately conservative: the context word is used
only where it is known to mean something (a material after an impact, a surface under footsteps,
a place for ambience); otherwise a folder named after a game unit ("spearman berserk") would add
noise. Captions are always non-empty, lower-case English; when the label is empty or says nothing
(a game's internal name), the category supplies the words ("a weapon sound", "an animal sound").
"""

from __future__ import annotations

import re

__all__ = ["caption_for", "clean_words", "with_article"]

# Game-engine jargon and file-name noise that says nothing about the sound.
_NOISE = frozenset(
    """sfx snd sound sounds fx wav ogg oga mp voc wv loop lp mono stereo default generic std misc
    teefault oxygen homedecor sys le none the of and data effects effect sample samples new old
    alt var tmp v""".split()
)
_ABBREVIATIONS = {
    "fs": "footstep", "wp": "weapon", "expl": "explosion", "amb": "ambience", "con": "construction",
    "sel": "selecting", "jav": "javelin", "btn": "button", "dr": "dragon rider", "im": "message", "mg": "machine gun",
}
# Materials and surfaces: a word here in second place after a projectile means "hitting it".
_MATERIALS = frozenset(
    """wood metal stone dirt grass gravel sand snow rock water mud glass ice concrete carpet tile
    leaves flesh earth ground wall floor dirt plastic cloth""".split()
)
_IN_SURFACES = frozenset({"snow", "water", "mud", "sand", "leaves"})
_PROJECTILES = frozenset("arrow sling spear bullet bolt stone rock javelin dart shell".split())
# Words that are already uncountable or plural in everyday use: no article.
_MASS_NOUNS = frozenset(
    """wood metal stone dirt grass gravel sand snow water mud glass ice fire rain wind thunder
    ambience applause laughter music static noise traffic machinery rubble debris meat fruit grain
    food lava steam smoke gunfire electricity cattle""".split()
)
_ADJECTIVES = frozenset(
    """tiny small little big large huge medium short long heavy light loud soft quiet distant far
    near low high fast slow deep wet dry metallic wooden electric mechanical""".split()
)
_PLACES = frozenset(
    """forest cave city industry beach sea ocean river street factory farm jungle desert swamp
    village night space ship underwater harbour harbor town tavern market castle dungeon""".split()
)
# Folder names that only repeat the category or name a game/character: never used as context.
_GENERIC_CONTEXTS = frozenset(
    """player players weapon weapons impact impacts animal animals sprites world sounds sound sfx
    ui menu interface gui environment ambience ambient npcs enemies monsters units death general
    common misc effects game games feedback bot heroes none wesnoth""".split()
)
# Nouns that name a sound by themselves; other lone words get "sound" appended ("a dream sound").
_SOUND_NOUNS = frozenset(
    """explosion blast crash splash hit thud bang click beep shot gunshot knock scream shout
    whoosh swoosh swish zap buzz hum roar growl bark meow moo chirp tweet squeak creak slam clang
    clank ding chime bell alarm siren horn whistle engine motor footstep footsteps step steps
    applause laughter cough sneeze gasp grunt groan moan sigh yell cry laugh pop crack snap rumble
    thunder rain wind fire water door drip drop bubble bubbles splat punch kick slap smack
    ricochet reload rattle jingle coins coin pickup impact thump boom sizzle hiss fizz purr neigh
    bleat oink cluck quack hoot howl caw croak ping pong tick tock clock typing keyboard burp
    bite chew eat drink swallow slurp ambience birds bird frog frogs cricket crickets insects
    waterfall stream river waves surf skid screech""".split()
)
_VERB_SUFFIXES = {
    "die": "dying", "dies": "dying", "attack": "attacking", "run": "running", "walk": "walking",
    "fly": "flying", "jump": "jumping", "land": "landing", "fall": "falling", "hurt": "in pain",
}
_LEADING_VERBS = {
    "gather": "gathering", "mine": "mining", "lumber": "chopping", "chop": "chopping",
    "construction": "building with", "build": "building", "harvest": "harvesting",
    "dig": "digging", "saw": "sawing", "hammer": "hammering", "open": "opening",
    "close": "closing", "break": "breaking", "pickup": "picking up", "drop": "dropping",
}
_HUMAN_VOCALS = {
    "pain": "a grunt of pain", "hurt": "a grunt of pain", "death": "a death cry", "die": "a death cry",
    "gasp": "a gasp", "jump": "a jumping grunt", "drown": "someone drowning", "falling": "someone falling",
    "fall": "a fall", "breath": "breathing", "breathe": "breathing", "cough": "a cough",
}
_GENDERED = {"male": "a man's", "man": "a man's", "female": "a woman's", "woman": "a woman's"}
_CATEGORY_FALLBACKS = {
    "weapons": "a weapon sound", "impacts/hits": "an impact", "human non-verbal": "a human vocal sound",
    "machines/tools/household": "a machine sound", "UI/beeps/notifications": "an interface beep",
    "magic/sci-fi/synth": "a sci-fi sound effect", "animals": "an animal sound", "ambience": "ambience",
    "footsteps": "footsteps", "explosions": "an explosion", "vehicles/engines": "a vehicle engine",
    "water/rain": "water", "fire": "fire", "sports/games/toys": "a game sound", "wind/weather": "wind",
    "doors/mechanisms": "a door",
}
# Appended to an opaque word by category ("a bonus beep", "an alien sci-fi sound").
_CATEGORY_SUFFIXES = {
    "UI/beeps/notifications": "beep", "magic/sci-fi/synth": "sci-fi sound",
    "weapons": "sound", "machines/tools/household": "sound",
}
_ING_NOUNS = frozenset("sling string ring king wing swing spring thing ceiling building".split())
_PROJECTILE_NAMES = {"sling": "a sling stone"}
# Whole labels that the rules would word badly.
_WHOLE_LABELS = {"leaves": "rustling leaves", "crowd": "a crowd", "machine": "a machine running",
                "land": "a landing thud"}
_SILENT_H = ("hour", "honest", "honour", "honor", "heir")
_YOU_SOUND = ("uni", "use", "usu", "ufo", "uti", "one", "once", "eu", "ewe")
_SPLIT = re.compile(r"[\s_\-./]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def clean_words(text: str) -> list[str]:
    """Lower-case words of ``text``: camelCase/underscores split, digits and jargon dropped,
    abbreviations spelled out."""
    words: list[str] = []
    for raw in _SPLIT.split(_CAMEL.sub(" ", text or "")):
        word = re.sub(r"[^a-z']", "", raw.lower())
        if len(word) < 2 or word in _NOISE:
            continue
        words.extend(_ABBREVIATIONS.get(word, word).split())
    deduplicated: list[str] = []
    for word in words:
        if not deduplicated or deduplicated[-1] != word:
            deduplicated.append(word)
    return deduplicated


def with_article(phrase: str) -> str:
    """``phrase`` with "a"/"an" in front, unless it is plural, uncountable or a gerund."""
    if not phrase:
        return phrase
    first, last = phrase.split()[0], phrase.split()[-1]
    if first in ("a", "an", "the", "some", "someone") or first.endswith("'s"):
        return phrase
    if _is_plural(last) or last in _MASS_NOUNS or _is_gerund(first) and len(phrase.split()) == 1:
        return phrase
    return ("an " if _starts_with_vowel_sound(first) else "a ") + phrase


def _starts_with_vowel_sound(word: str) -> bool:
    if word.startswith(_SILENT_H):
        return True
    if word.startswith(_YOU_SOUND):
        return False
    return word[:1] in "aeiou"


def _is_gerund(word: str) -> bool:
    return word.endswith("ing") and word not in _ING_NOUNS


def _is_plural(word: str) -> bool:
    if word in ("footsteps", "steps", "leaves", "coins", "birds", "bubbles", "crickets", "insects",
                "waves", "keys", "chains", "bones", "rocks", "stones", "bees", "bats", "frogs"):
        return True
    return (len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ous"))
            and word not in _SOUND_NOUNS and word not in ("gas", "bus", "lens", "glass", "grass"))


def _adjectives_first(words: list[str]) -> list[str]:
    """"explosion tiny" -> "tiny explosion": file names often put the size last."""
    adjectives = [word for word in words if word in _ADJECTIVES]
    nouns = [word for word in words if word not in _ADJECTIVES]
    return adjectives + nouns if nouns else words


def caption_for(label: str, context: str = "", categories: str = "") -> str:
    """A natural, lower-case, non-empty caption for one manifest row."""
    words = clean_words(label)
    context_words = [word for word in clean_words(context) if word not in _GENERIC_CONTEXTS]
    category_list = [part.strip() for part in (categories or "").split(",") if part.strip()]
    if " ".join(words) in _WHOLE_LABELS:
        return _finish(_WHOLE_LABELS[" ".join(words)])
    for rule in (_footsteps, _leading_verb, _impact, _human_vocal, _verb_suffix, _ambience):
        caption = rule(words, context_words, clean_words(context), category_list)
        if caption:
            return _finish(caption)
    if not words:
        words = context_words
    if not words:
        return _finish(_category_fallback(category_list))
    phrase = " ".join(_adjectives_first(words))
    if len(words) == 1 and words[0] not in _SOUND_NOUNS and words[0] not in _MASS_NOUNS:
        suffix = next((_CATEGORY_SUFFIXES[c] for c in category_list if c in _CATEGORY_SUFFIXES), None)
        if suffix is None and category_list:
            return _finish(with_article(phrase))  # "a skid", "a crow": the category adds nothing
        phrase = f"{phrase} {suffix or 'sound'}"
    return _finish(with_article(phrase))


def _finish(caption: str) -> str:
    caption = re.sub(r"\s+", " ", caption).strip().lower()
    return caption or "a sound effect"


def _category_fallback(categories: list[str]) -> str:
    for category in categories:
        if category in _CATEGORY_FALLBACKS:
            return _CATEGORY_FALLBACKS[category]
    return "a sound effect"


def _footsteps(words, context_words, raw_context, categories) -> str | None:
    stepping = {"footstep", "footsteps", "step", "steps", "singlesteps"}
    if not (stepping & set(words) or stepping & set(raw_context) or "footsteps" in categories):
        return None
    rest = [word for word in words if word not in stepping and word not in ("foot", "left", "right")]
    surfaces = [word for word in rest + context_words if word in _MATERIALS]
    if surfaces:
        surface = surfaces[0]
        return f"footsteps {'in' if surface in _IN_SURFACES else 'on'} {surface}"
    if "splash" in rest:
        return "footsteps splashing through water"
    others = [word for word in rest if word not in _GENERIC_CONTEXTS]
    return f"{' '.join(others)} footsteps" if others else "footsteps"


def _impact(words, context_words, raw_context, categories) -> str | None:
    if words in (["arrow"], ["bullet"], ["bolt"]) and "impact" in raw_context:
        return f"{with_article(words[0])} impact"
    if len(words) != 2 or words[1] not in _MATERIALS:
        return None
    hitter, material = words
    if hitter in _PROJECTILES:
        return f"{with_article(_PROJECTILE_NAMES.get(hitter, hitter))} hitting {material}"
    if hitter == "shield":
        return f"a hit on a {'wooden' if material == 'wood' else material} shield"
    if "impact" in raw_context or "impacts/hits" in categories:
        return f"{with_article(hitter)} hitting {material}"
    return None


def _leading_verb(words, context_words, raw_context, categories) -> str | None:
    if len(words) < 2 or words[0] not in _LEADING_VERBS:
        return None
    verb, rest = _LEADING_VERBS[words[0]], words[1:]
    if words[0] == "lumber" and rest == ["tree"]:
        return "chopping a tree with an axe"
    obj = " ".join(rest)
    return f"{verb} {with_article(obj) if verb.endswith('with') or rest[-1] not in _MASS_NOUNS else obj}"


def _human_vocal(words, context_words, raw_context, categories) -> str | None:
    if "human non-verbal" not in categories or not words:
        return None
    if words[0] in _GENDERED and len(words) == 2 and words[1] in ("death", "die", "pain", "hurt"):
        kind = "death cry" if words[1] in ("death", "die") else "grunt of pain"
        return f"{_GENDERED[words[0]]} {kind}"
    core = [word for word in words if word not in _ADJECTIVES] or words
    if len(core) <= 2 and core[-1] in _HUMAN_VOCALS and (len(core) == 1 or core[-1] not in ("die", "death")):
        adjectives = [word for word in words if word in _ADJECTIVES]
        vocal = _HUMAN_VOCALS[core[-1]]
        if adjectives and vocal.startswith("a "):
            vocal = with_article(" ".join(adjectives) + " " + vocal[2:])
        return vocal
    if words[-1] in ("death", "die") and "animals" in categories:
        return f"{with_article(' '.join(words[:-1]))} dying" if len(words) > 1 else "an animal dying"
    return None


def _verb_suffix(words, context_words, raw_context, categories) -> str | None:
    if len(words) < 2 or words[-1] not in ("die", "dies", "death"):
        return None
    subject = " ".join(_adjectives_first(words[:-1]))
    return f"{with_article(subject)} dying"


def _ambience(words, context_words, raw_context, categories) -> str | None:
    if not ({"ambient", "ambience", "atmosphere", "atmo"} & set(words)):
        return None
    places = [word for word in words + raw_context if word in _PLACES]
    things = [word for word in words if word not in ("ambient", "ambience", "atmosphere", "atmo")
              and word not in _PLACES]
    phrase = f"{' '.join(things)} ambience" if things else "ambience"
    return f"{phrase} in {with_article(places[0])}" if places else phrase
