"""Title and anchor normalisation, and telling article links from everything else.

- ``normalise_title`` follows MediaWiki's title normalisation as far as it matters for link targets
  (the same rules mwaddlink applies, plus MediaWiki's whitespace and direction-mark handling).
- ``normalise_anchor`` is mwaddlink's key function (strip + Python ``str.lower``); anchors dictionaries,
  training and inference must all use it, or lookups silently miss.
- ``is_article_link`` rejects targets in another namespace or on another wiki. It knows the English
  canonical names and aliases, the local names and aliases of el, uk, vi, ja, mr and ltg (read from their
  dumps and from the prefixes actually used in them), and every Wikipedia language code and common
  interwiki prefix; pass the dump's ``SiteInfo.namespace_prefixes()`` for any other wiki. A missed
  prefix is harmless downstream (the target is not an article title, so it never matches a page).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from urllib.parse import unquote

__all__ = ["is_article_link", "namespace_prefix", "normalise_anchor", "normalise_title", "read_title_list"]

# MediaWiki treats these as spaces in titles and collapses runs of them (MediaWikiTitleCodec).
_SPACES = re.compile(r"[ _\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
# Direction marks are removed from titles by MediaWiki.
_DIRECTION_MARKS = re.compile(r"[\u200e\u200f\u202a-\u202e]")

_ENGLISH = """media special talk user user_talk project project_talk file file_talk image image_talk
mediawiki mediawiki_talk template template_talk help help_talk category category_talk portal portal_talk
wikipedia wikipedia_talk wp wt draft draft_talk module module_talk timedtext timedtext_talk book book_talk
gadget gadget_talk gadget_definition gadget_definition_talk topic education_program
education_program_talk translations translations_talk"""

# Local namespace names from each wiki's <siteinfo> (2023-05 / 2017-09 dumps) plus aliases and
# shortcuts seen as link prefixes in those dumps (e.g. el "Εικόνα", ja "画像", vi "Hình", "Tiêu bản").
_LOCAL = {
    "el": """μέσο ειδικό συζήτηση χρήστης συζήτηση_χρήστη βικιπαίδεια συζήτηση_βικιπαίδεια αρχείο
        συζήτηση_αρχείου συζήτηση_mediawiki πρότυπο συζήτηση_προτύπου βοήθεια συζήτηση_βοήθειας κατηγορία
        συζήτηση_κατηγορίας πύλη συζήτηση_πύλης εικόνα συζήτηση_εικόνας βπ""",
    "uk": """медіа спеціальна обговорення користувач обговорення_користувача вікіпедія
        обговорення_вікіпедії файл обговорення_файлу обговорення_mediawiki шаблон обговорення_шаблону
        довідка обговорення_довідки категорія обговорення_категорії портал обговорення_порталу модуль
        обговорення_модуля зображення обговорення_зображення вп""",
    "vi": """phương_tiện đặc_biệt thảo_luận thành_viên thảo_luận_thành_viên thảo_luận_wikipedia tập_tin
        thảo_luận_tập_tin thảo_luận_mediawiki bản_mẫu thảo_luận_bản_mẫu trợ_giúp thảo_luận_trợ_giúp
        thể_loại thảo_luận_thể_loại cổng_thông_tin thảo_luận_cổng_thông_tin mô_đun thảo_luận_mô_đun
        tiện_ích thảo_luận_tiện_ích định_nghĩa_tiện_ích thảo_luận_định_nghĩa_tiện_ích hình thảo_luận_hình
        tiêu_bản thảo_luận_tiêu_bản""",
    "ja": """メディア 特別 ノート 利用者 利用者‐会話 wikipedia‐ノート ファイル ファイル‐ノート mediawiki‐ノート
        template‐ノート help‐ノート category‐ノート portal‐ノート プロジェクト プロジェクト‐ノート モジュール
        モジュール‐ノート 画像 画像‐ノート h""",
    "mr": """मिडिया विशेष चर्चा सदस्य सदस्य_चर्चा विकिपीडिया विकिपीडिया_चर्चा चित्र चित्र_चर्चा मिडियाविकी
        मिडियाविकी_चर्चा साचा साचा_चर्चा सहाय्य सहाय्य_चर्चा वर्ग वर्ग_चर्चा दालन दालन_चर्चा विभाग
        विभाग_चर्चा साहाय्य विकिपीडिआ विपी""",
    "ltg": """medeja seviškuo sprīža lītuotuojs sprīža_ap_lītuotuoju vikipedeja vikipedejis_sprīža fails
        sprīža_ap_failu sprīža_ap_mediawiki taiss sprīža_ap_taisu paleigs sprīža_ap_paleigu kategoreja
        sprīža_ap_kategoreju modulis moduļa_diskusija tēma""",
}

# Interwiki prefixes of sister projects and common external wikis (case-insensitive in MediaWiki).
_INTERWIKI = """w wikipedia wikt wiktionary q wikiquote b wikibooks s wikisource n wikinews v wikiversity
voy wikivoyage c commons m meta metawiki metawikimedia mw mediawikiwiki species wikispecies d wikidata
f foundation wmf wikimedia wmfblog phab phabricator gerrit incubator outreach wikitech testwiki mail
iarchive creativecommons planetmath toollabs wikiapiary translatewiki betawikiversity oldwikisource"""

# Wikipedia language editions (interlanguage prefixes).
_LANGUAGES = """aa ab ace ady af ak als alt am ami an ang anp ar arc ary arz as ast atj av avk awa ay az
azb ba ban bar bat-smg bbc bcl be be-tarask be-x-old bg bh bi bjn blk bm bn bo bpy br bs bug bxr ca
cbk-zam cdo ce ceb ch cho chr chy ckb co cr crh cs csb cu cv cy da dag de din diq dsb dty dv dz ee el
eml en eo es et eu ext fa fat ff fi fiu-vro fj fo fon fr frp frr fur fy ga gag gan gcr gd gl glk gn
gom gor got gpe gu guc gur guw gv ha hak haw he hi hif ho hr hsb ht hu hy hyw hz ia id ie ig ii ik
ilo inh io is it iu ja jam jbo jv ka kaa kab kbd kbp kcg kg ki kj kk kl km kn ko koi kr krc ks ksh ku
kv kw ky la lad lb lbe lez lfn lg li lij lld lmo ln lo lrc lt ltg lv mad mai map-bms mdf mg mh mhr mi
min mk ml mn mni mnw mo mr mrj ms mt mus mwl my myv mzn na nah nap nds nds-nl ne new ng nia nl nn no
nov nqo nrm nso nv ny oc olo om or os pa pag pam pap pcd pcm pdc pfl pi pih pl pms pnb pnt ps pt pwn
qu rm rmy rn ro roa-rup roa-tara ru rue rup rw sa sah sat sc scn sco sd se sg sgs sh shi shn si simple
sk skr sl sm smn sn so sq sr srn ss st stq su sv sw szl szy ta tay tcy te tet tg th ti tk tl tly tn to
tpi tr trv ts tt tum tw ty tyv udm ug uk ur uz ve vec vep vi vls vo vro wa war wo wuu xal xh xmf yi yo
yue za zea zgh zh zh-classical zh-min-nan zh-yue zu"""


def _names(block: str) -> frozenset[str]:
    return frozenset(word.replace("_", " ").casefold() for word in block.split())


_COMMON_PREFIXES = _names(_ENGLISH) | _names(_INTERWIKI) | _names(_LANGUAGES)
_LOCAL_PREFIXES = {language: _names(block) for language, block in _LOCAL.items()}


def _upper_first(text: str) -> str:
    first = text[0].upper()
    # MediaWiki keeps characters whose uppercase is several characters (ß, ŉ) as they are.
    return (first if len(first) == 1 else text[0]) + text[1:]


def normalise_title(raw: str) -> str:
    """URL-unquote, drop ``#fragment`` and a leading ``:``, turn ``_`` and other spaces into single
    spaces, drop direction marks, strip, uppercase the first character ($wgCapitalLinks).
    Returns "" for a fragment-only or empty title."""
    title = unquote(raw)
    title = title.split("#", 1)[0]
    title = _DIRECTION_MARKS.sub("", title)
    title = _SPACES.sub(" ", title).strip()
    if title.startswith(":"):
        title = title[1:].lstrip()
    return _upper_first(title) if title else ""


def read_title_list(path: str | Path) -> tuple[str, ...]:
    """The titles of a list file (UTF-8, one title per line, as in a link or with underscores; blank
    lines and lines starting with "#" skipped), normalised and de-duplicated, in file order.
    Raises OSError for an unreadable file and UnicodeDecodeError for one that is not UTF-8."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    titles = (normalise_title(line) for line in lines if line.strip() and not line.lstrip().startswith("#"))
    return tuple(dict.fromkeys(title for title in titles if title))


def normalise_anchor(text: str) -> str:
    """The anchor-dictionary key: ``text.strip().lower()`` (Python lowercasing, as mwaddlink)."""
    return text.strip().lower()


def namespace_prefix(target: str) -> str | None:
    """The casefolded text before the first ``:`` of a title (spaces normalised), or None."""
    head, colon, _ = target.lstrip(":").partition(":")
    if not colon:
        return None
    return _SPACES.sub(" ", head).strip().casefold()


def is_article_link(target: str, language: str, namespace_prefixes: Collection[str] = ()) -> bool:
    """False for an empty target and for one whose prefix names a namespace (English canonical names
    and aliases, the built-in local names of ``language``, or ``namespace_prefixes`` as returned by
    ``namespace_prefix``/``SiteInfo.namespace_prefixes()``), a Wikipedia language or a known interwiki."""
    if not normalise_title(target):
        return False
    prefix = namespace_prefix(target)
    if prefix is None:
        return True
    if prefix in _COMMON_PREFIXES or prefix in _LOCAL_PREFIXES.get(language, frozenset()):
        return False
    return prefix not in namespace_prefixes
