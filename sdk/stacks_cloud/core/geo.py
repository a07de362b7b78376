"""Route53 geolocation codes: continents and ISO 3166-1 alpha-2 countries.

The country list was generated from the IANA time zone database's `iso3166.tab` (all 249
officially assigned codes); Route53 accepts these plus `*` for its default record, which the config
expresses as `multi_region.default_region` instead.
"""

from __future__ import annotations

import difflib

CONTINENTS: dict[str, str] = {
    "AF": "Africa",
    "AN": "Antarctica",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "OC": "Oceania",
    "SA": "South America",
}

COUNTRIES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY
    BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK
    FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR
    IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK
    ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()  # noqa: SIM905  (compact: 249 codes)
)


def continent_problem(code: str) -> str | None:
    """Why `code` is not a Route53 continent code, with the fix; None when it is one."""
    if code in CONTINENTS:
        return None
    listed = ", ".join(f"{key} ({name})" for key, name in CONTINENTS.items())
    return f"is not a continent code. Fix: use one of {listed}."


def country_problem(code: str) -> str | None:
    """Why `code` is not an ISO 3166-1 alpha-2 country code, with the fix; None when it is one."""
    if code in COUNTRIES:
        return None
    if code.upper() == "UK":
        return "is not an ISO 3166-1 alpha-2 country code. Fix: the United Kingdom is 'GB'."
    close = difflib.get_close_matches(code.upper(), sorted(COUNTRIES), n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else "use e.g. 'DE', 'GB' or 'US'."
    return f"is not an ISO 3166-1 alpha-2 country code. Fix: {hint}"
