"""Write tests/scoring/data/open_asr_golden.json: the Open ASR Leaderboard's own scoring code run
on varied strings, the expected outputs our port (evaluator/scoring/openasr/) must reproduce.

Run it with the leaderboard's ``normalizer`` package (github.com/huggingface/open_asr_leaderboard,
its ``normalizer/`` folder at the commit named by --commit) on the path, in a folder outside this
repository; it needs ``kaldialign``, ``num2words``, ``regex``, ``datasets`` and
``huggingface_hub`` (its module imports them)::

    git -C LEADERBOARD archive d1e99b2 normalizer | tar -x -C /tmp/oal
    python scripts/open_asr_golden.py --source /tmp/oal --commit d1e99b2 \\
        --transcripts /tmp/oal/transcripts.json --out tests/scoring/data/open_asr_golden.json

``--transcripts``: {"SET": [{"id", "reference", "hypothesis"}, ...]}, sets named ``MODEL:LANGUAGE``;
each is scored by the source's ``score_results`` from a manifest written the source's way.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile

ENGLISH = [
    # numbers, counting, ordinals, decimals, fractions
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10.", "one, two, three, four, five, six, seven, eight, nine, ten",
    "twenty one", "twenty-first century", "one hundred and twenty three", "a hundred and one dalmatians",
    "one oh one", "double seven", "triple zero", "two point five", "three and a half hours", "zero point seven",
    "1st 2nd 3rd 4th", "the 1960s", "in the nineteen sixties", "nineteen eighty four", "the 274th day",
    "room 101", "one thousand nine hundred and ninety nine", "1,000,000 people", "a million and a half",
    "two thousand and twenty six", "minus five degrees", "plus or minus two", "negative three", "it is 3.14",
    "ones and zeros", "the one that got away", "one", "eleven twelve thirteen", "sixes and sevens",
    "fifties", "the twentieth of may", "a dozen eggs", "call 555 1234", "version 2.0.1", "ip 192.168.0.1",
    "1/2 cup", "three quarters", "4 x 4", "it's 24/7", "number 42!", "7 am", "at 7 p.m.", "10:30 in the morning",
    "half past nine", "a quarter to five", "in 2026", "on 12/31/2025", "December 31st, 2025", "the 21st of May",
    "1990s-era", "mid-2000s", "Q3 2024", "Q1", "FY25", "H1 results", "top 10", "covid-19", "k-9 unit",
    "three hundred and sixty five days", "nine one one", "a hundred", "hundreds of them", "thousands",
    "millions of dollars", "billion", "five thousandth", "one millionth", "it costs 5 bucks", "0.5", "05",
    # money and percents
    "$20 million", "twenty million dollars", "$5", "five dollars", "$2 and 7 cents", "2 dollars and 7 cents",
    "£100", "one hundred pounds", "€50", "fifty euros", "10%", "ten percent", "ten per cent", "5.5% growth",
    "$1.50", "a dollar fifty", "99 cents", "ninety nine cents", "$0.99", "US$3 billion", "$3bn", "£2.5m",
    "revenue of $1.2 billion, up 15% year over year", "EPS of $0.45 per share", "margins of 35 percent",
    "a 50-50 split", "100 percent", "it's 100%",
    # acronyms and letters
    "the BBC", "the b b c", "B.B.C.", "5G network", "5 g", "NASA", "n a s a", "the U.S.", "U.S.A.", "the u s",
    "A.I.", "a i", "i am a cat", "a big cat", "I B M", "IBM's", "FBI agents", "an F.B.I. agent", "X-ray", "x ray",
    "e-mail", "e mail", "email", "T-shirt", "wi-fi", "Wi Fi", "hi-fi", "sci-fi", "e-commerce", "e-book",
    "OK", "okay", "O.K.", "o k", "kay", "ok then", "a.m.", "p.m.", "etc.", "et cetera", "etcetera",
    "all right", "alright", "al right", "how ever", "however", "CEO", "C.E.O.", "c e o", "iPhone 15 Pro",
    # fillers and disfluencies
    "um, I think so", "uh huh", "uhm, yeah", "hmm, let me see", "mm-hmm", "mhm", "ah, I see", "eh?",
    "er, well", "like, you know", "so, um, the thing is, uh, that", "huh?", "aha!", "umm okay", "ehm",
    "[laughter] yes", "(inaudible) no", "<unk> hello", "[noise]", "yes [crosstalk] no", "well (pause) then",
    # contractions and titles
    "won't", "can't", "don't", "let's go", "ain't", "y'all", "wanna", "gotta", "gonna", "I'ma", "imma",
    "woulda coulda shoulda", "ma'am", "Mr. Smith", "Mrs. Jones", "Dr. Who", "St. Louis", "Prof. Plum",
    "Capt. Hook", "Gov. Brown", "Sen. Warren", "Rep. Lee", "Pres. Lincoln", "Rev. King", "Lt. Dan", "Col. Sanders",
    "Martin Luther King Jr.", "John Smith Sr.", "he'd been there", "she's been", "it's gone", "he'd done it",
    "she's got it", "they're here", "it's fine", "what's up", "that's it", "I'd go", "we'll see", "I've seen",
    "I'm here", "you're right", "isn't it", "the dog's bone", "James' car", "rock 'n' roll", "o'clock",
    # British spellings and names
    "colour", "the colours of autumn", "favourite behaviour", "organise", "organisation", "centre", "theatre",
    "analyse", "travelling", "aeroplane", "aluminium", "grey", "programme", "cheque", "catalogue", "defence",
    "licence", "practise", "ageing", "yoghurt", "manoeuvre", "paediatric", "oestrogen", "jewellery",
    "Micheal and Stephen", "Geoffrey", "Mohamed", "Sara", "Jon", "Katherine", "Phillip", "Shawn", "MacDonald",
    "McDonald's", "Kris", "Eric", "Erik", "Tracey", "Lewis",
    # punctuation, symbols, diacritics, odd text
    "Hello, world!", "Hello world.", "What?! No...", "well... maybe", "rock-and-roll", "state-of-the-art",
    "naïve café", "résumé", "Zoë", "smörgåsbord", "Ærø", "straße", "Łódź", "œuvre", "façade", "coöperate",
    "\"quoted\" text", "'single quotes'", "semi; colon: dash — here", "a/b testing", "50/50", "C++ and C#",
    "user@example.com", "www.example.com", "#hashtag", "@mention", "& and +", "~tilde~", "ellipsis…",
    "  spaces   everywhere  ", "", " ", ".", "...", "-", "MiXeD CaSe TeXt", "ALL CAPS SHOUTING",
    "It was the best of times, it was the worst of times.", "Ever tried. Ever failed. No matter.",
    "The quick brown fox jumps over the lazy dog.", "And you always want to see it in the superlative degree.",
    "whitepaper", "white paper", "white-paper", "ice cream", "ice-cream", "data base", "database",
    "every day", "everyday", "any one", "anyone", "north east", "north-east", "some thing", "something",
]

OTHER = {
    "es": ["1, 2, 3, 4, 5, 6, 7, 8, 9, 10.", "uno, dos, tres, cuatro, cinco", "Tengo 25 años.",
           "El año 2026 será mejor.", "Cuesta 1.500 euros.", "Son 10 000 personas.", "El 3,5 por ciento.",
           "¿Dónde está la biblioteca?", "¡Hola, mundo!", "La niña comió piña en el año 1999.",
           "El veloz murciélago hindú comía feliz cardillo y kiwi.", "Mañana vamos a caminar por la montaña.",
           "Llegó el día 21 de mayo.", "Capítulo XII", "Son las 7:30.", "Tiene 100 % de razón.", "[risas] sí",
           "(inaudible) no", "Él dijo «adiós».", "El 1.º de enero", "O sea, eh, pues", "Uno mil", "21", "101",
           "1000000", "0"],
    "fr": ["1, 2, 3, 4, 5, 6, 7, 8, 9, 10.", "un, deux, trois", "J'ai 25 ans.", "En 2026, il fera beau.",
           "Ça coûte 1 500 euros.", "Il y a 80 personnes.", "quatre-vingt-dix-neuf", "C'est l'été à Noël?",
           "Où est la bibliothèque ?", "Bonjour le monde !", "Portez ce vieux whisky au juge blond qui fume.",
           "L'œuvre d'art", "Le 14 juillet 1789", "Il est 7 h 30.", "100 %", "[rires] oui", "aujourd'hui",
           "porte-monnaie", "porte monnaie", "Ève et Noël", "71", "91", "1000", "0"],
    "de": ["1, 2, 3, 4, 5, 6, 7, 8, 9, 10.", "eins, zwei, drei", "Ich bin 25 Jahre alt.", "Im Jahr 2026",
           "Das kostet 1.500 Euro.", "Es sind 10 000 Menschen.", "Straße und Fußgänger", "Größe, Grüße, Öl",
           "Donaudampfschifffahrtsgesellschaft", "Donau Dampfschiff Fahrt", "Haus-tür", "Haustür",
           "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.", "Wie geht's?", "[Lachen] ja",
           "Am 3. Oktober", "um 7 Uhr", "21", "101", "1000000", "Guten Morgen, Welt!"],
    "it": ["1, 2, 3, 4, 5, 6, 7, 8, 9, 10.", "uno, due, tre", "Ho 25 anni.", "Nel 2026", "Costa 1.500 euro.",
           "Perché è così?", "L'unico modo è questo.", "Ciao mondo!", "Quel vituperabile xenofobo zelante "
           "assaggia il whisky ed esclama: alleluja!", "Il 25 aprile", "alle 7:30", "capostazione",
           "capo stazione", "[risate] sì", "21", "101", "1000", "città, virtù, più"],
    "pt": ["1, 2, 3, 4, 5, 6, 7, 8, 9, 10.", "um, dois, três", "Tenho 25 anos.", "Em 2026", "Custa 1.500 reais.",
           "Olá, mundo!", "Não é verdade?", "Ação, coração, pão", "guarda-chuva", "guarda chuva",
           "Luís argüia à Júlia que «brações, fé, chá, óxido, pôr, zângão» eram palavras do português.",
           "No dia 7 de setembro", "às 7h30", "[risos] sim", "21", "101", "1000", "Avó e avô"],
}

PAIRS = {  # (language, reference, hypothesis) for normalize_compound_pairs
    "de": [("die haus tür ist offen", "die haustür ist offen"), ("haustür", "haus tür"),
           ("donau dampfschiff", "donaudampfschiff"), ("ein zwei drei", "einzwei drei"), ("a b c", "abc d")],
    "it": [("capo stazione", "capostazione"), ("il capostazione arriva", "il capo stazione arriva")],
    "fr": [("porte monnaie", "porte-monnaie"), ("porte monnaie", "portemonnaie")],
    "es": [("para caidista", "paracaidista"), ("sin embargo", "sinembargo aqui")],
    "pt": [("guarda chuva", "guardachuva"), ("guarda chuva azul", "guarda chuvas azul")],
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True, help="folder holding the leaderboard's normalizer/ package")
    p.add_argument("--commit", required=True, help="the leaderboard commit the source is")
    p.add_argument("--transcripts", help="JSON of sets to score with score_results")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    sys.path.insert(0, os.path.abspath(args.source))
    from normalizer import data_utils, eval_utils

    english = [{"input": s, "expected": data_utils.normalizer(s)} for s in ENGLISH]
    other = [{"language": lang, "input": s, "expected": data_utils.ml_normalizer(s, lang=lang)}
             for lang, texts in OTHER.items() for s in texts]
    pairs = []
    for lang, items in PAIRS.items():
        refs = [data_utils.ml_normalizer(r, lang=lang) for r, _ in items]
        hyps = [data_utils.ml_normalizer(h, lang=lang) for _, h in items]
        new_refs, new_hyps = eval_utils.normalize_compound_pairs(refs, hyps)
        pairs += [{"language": lang, "reference": r, "hypothesis": h, "expected": [nr, nh]}
                  for r, h, nr, nh in zip(refs, hyps, new_refs, new_hyps, strict=True)]
    scored = {}
    if args.transcripts:
        with open(args.transcripts, encoding="utf-8") as f:
            sets = json.load(f)
        for name, items in sets.items():
            model, language = name.split(":")
            with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
                path = os.path.join(tmp, f"MODEL_evaluator-{model}_DATASET_sample_{language}_test.jsonl")
                with open(path, "w", encoding="utf-8") as out:
                    for item in items:
                        out.write(json.dumps({"audio_filepath": item["id"], "duration": 1.0, "time": 0.1,
                                              "text": item["reference"], "pred_text": item["hypothesis"]},
                                             ensure_ascii=False) + "\n")
                _, results = eval_utils.score_results(tmp, language=language, multilingual=language != "en")
            (result,) = results.values()
            scored[name] = {"language": language, "items": items,
                            "expected": {k: result[k] for k in ("wer", "ins", "del", "sub")}}
    data = {
        "source": "github.com/huggingface/open_asr_leaderboard normalizer/ (Apache-2.0)",
        "commit": args.commit,
        "made_by": "scripts/open_asr_golden.py",
        "english": english,
        "multilingual": other,
        "compound_pairs": pairs,
        "score_results": scored,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n = len(english) + len(other) + len(pairs)
    print(f"{args.out}: {n} strings, {len(scored)} scored sets, from commit {args.commit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
