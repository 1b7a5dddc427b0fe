"""bench/imap/mkmaildir.py - the benchmark's mailbox: N messages as a Maildir.

    generate([(maildir, owner), ...], n=10000, seed=20251122) -> stats

Writes the same N messages into every MAILDIR (each gets cur/, new/,
tmp/), so two servers get identical copies that share no index files;
OWNER (uid, gid), when not None, then owns the copy's tree (from the
Maildir's parent, the user's home, when the Maildir is called "mail"). Deterministic: the same seed gives the same bytes and names.

The messages look like a mailbox's: From/To/Cc, Subject (some RFC 2047
encoded), Date, Message-ID, In-Reply-To/References on about a third,
MIME-Version; 60 % text/plain, 15 % multipart/alternative (text + HTML),
25 % multipart/mixed with one or two base64 attachments (PDF, PNG, ZIP).
Sizes 2-50 KiB, log-uniform (median about 10 KiB). Senders are drawn from
200 names made of the surnames below (imap-load searches FROM for them).
Dates spread over 2024-01-01 .. 2025-12-31; the file's mtime is the Date
(a Maildir server's INTERNALDATE), so SINCE 1-Jul-2025 matches about a
quarter. Files go into cur/ named like Dovecot's deliveries,
"T.M<n>P<pid>.bench,S=<size>,W=<crlf size>:2,<flags>", with flags about
as a read mailbox has them: 80 % \\Seen, 10 % \\Answered, 5 % \\Flagged.
Line ends are LF, as a Maildir stores them.

Run alone: python3 mkmaildir.py N MAILDIR...
"""

import base64
import os
import random
import time

SURNAMES = ["Schmidt", "Weber", "Fischer", "Becker", "Hoffmann", "Wagner", "Koch", "Richter",
            "Klein", "Wolf", "Neumann", "Schwarz", "Zimmermann", "Braun", "Hartmann", "Lange",
            "Krause", "Lehmann", "Werner", "Schmitz"]
GIVEN = ["Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hannes", "Ida", "Jonas"]
WORDS = ("der die das und ist nicht ein eine zu mit auf fuer von im den des dem bitte danke "
         "Termin Rechnung Angebot Projekt Server Konfiguration Postfach Nachricht Anhang "
         "morgen heute Woche Update Bericht Entwurf Frage Antwort Meeting Liste Budget "
         "the and of to in is for on that with as this we please review attached report "
         "deadline invoice schedule release backup migration mailbox quota certificate").split()
DOMAINS = ["example.org", "example.com", "example.net", "firma.test", "verein.test"]
START = time.mktime((2024, 1, 1, 0, 0, 0, 0, 0, -1))
END = time.mktime((2025, 12, 31, 23, 59, 0, 0, 0, -1))


def _corpus(rng, size=1 << 20):
    """About a megabyte of text in lines of up to 76 characters."""
    lines, total = [], 0
    while total < size:
        words, n = [], 0
        while n < 70:
            w = rng.choice(WORDS)
            words.append(w)
            n += len(w) + 1
        line = " ".join(words)[:76]
        lines.append(line)
        total += len(line) + 1
        if rng.random() < 0.12:
            lines.append("")
            total += 1
    return "\n".join(lines) + "\n"


def _text(rng, corpus, size):
    start = rng.randrange(0, len(corpus) - size - 1)
    start = corpus.index("\n", start) + 1
    end = corpus.rfind("\n", start, start + size) + 1
    return corpus[start:end] if end > start else corpus[start:start + size] + "\n"


def _b64(rng, nbytes):
    data = base64.encodebytes(rng.randbytes(nbytes)).decode()
    return data  # 76-character lines, LF


def _date(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))


def _message(rng, corpus, i, senders, t):
    size = int(2048 * (25.0 ** rng.random()))  # 2 KiB .. 50 KiB, log-uniform
    sender = senders[rng.randrange(len(senders))]
    rcpt = "Bench User <user@bench.test>"
    subj_words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7)))
    if rng.random() < 0.15:
        subject = "=?UTF-8?Q?" + ("Gr=C3=BC=C3=9Fe_" + subj_words.replace(" ", "_")) + "?="
    else:
        subject = ("Re: " if rng.random() < 0.3 else "") + subj_words.capitalize()
    mid = "<%d.%08x@%s>" % (i, rng.getrandbits(32), sender[1].split("@")[1])
    h = ["Return-Path: <%s>" % sender[1],
         "Received: from mx.%s (mx.%s [192.0.2.%d])\n\tby mail.bench.test with ESMTPS id %08X"
         "\n\tfor <user@bench.test>; %s" % (sender[1].split("@")[1], sender[1].split("@")[1],
                                            rng.randint(1, 254), rng.getrandbits(32), _date(t)),
         "From: %s <%s>" % sender, "To: %s" % rcpt]
    if rng.random() < 0.2:
        cc = senders[rng.randrange(len(senders))]
        h.append("Cc: %s <%s>" % cc)
    h += ["Subject: %s" % subject, "Date: %s" % _date(t), "Message-ID: %s" % mid]
    if i > 10 and rng.random() < 0.33:
        refs = ["<%d.ref@%s>" % (rng.randrange(i), rng.choice(DOMAINS))
                for _ in range(rng.randint(1, 4))]
        h += ["In-Reply-To: %s" % refs[-1], "References: %s" % "\n ".join(refs)]
    h.append("MIME-Version: 1.0")
    kind = rng.random()
    head = "\n".join(h) + "\n"
    if kind < 0.60:
        body = _text(rng, corpus, max(200, size - len(head)))
        return (head + "Content-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: 8bit\n\n" + body)
    boundary = "=_bench_%08x" % rng.getrandbits(32)
    if kind < 0.75:
        text = _text(rng, corpus, max(200, (size - len(head)) // 3))
        html = "<html><body><p>" + text.replace("\n\n", "</p><p>") + "</p></body></html>\n"
        return (head + 'Content-Type: multipart/alternative; boundary="%s"\n\n'
                "This is a multi-part message in MIME format.\n\n"
                "--%s\nContent-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: 8bit\n\n%s\n"
                "--%s\nContent-Type: text/html; charset=utf-8\n"
                "Content-Transfer-Encoding: 8bit\n\n%s\n--%s--\n"
                % (boundary, boundary, text, boundary, html, boundary))
    text = _text(rng, corpus, rng.randint(300, 2000))
    parts = ["--%s\nContent-Type: text/plain; charset=utf-8\n"
             "Content-Transfer-Encoding: 8bit\n\n%s" % (boundary, text)]
    natt = 1 if rng.random() < 0.7 else 2
    room = max(600, size - len(head) - len(text) - 400)
    for a in range(natt):
        ctype, ext = rng.choice([("application/pdf", "pdf"), ("image/png", "png"),
                                 ("application/zip", "zip")])
        name = "%s-%d.%s" % (rng.choice(WORDS), a + 1, ext)
        raw = max(300, room // natt * 3 // 4)
        parts.append("--%s\nContent-Type: %s; name=\"%s\"\n"
                     "Content-Disposition: attachment; filename=\"%s\"\n"
                     "Content-Transfer-Encoding: base64\n\n%s"
                     % (boundary, ctype, name, name, _b64(rng, raw)))
    return (head + 'Content-Type: multipart/mixed; boundary="%s"\n\n'
            "This is a multi-part message in MIME format.\n\n" % boundary
            + "\n".join(parts) + "\n--%s--\n" % boundary)


def generate(dirs, n=10000, seed=20251122):
    """dirs: [(maildir, (uid, gid) or None)]. Returns {"messages", "bytes"}."""
    rng = random.Random(seed)
    corpus = _corpus(rng)
    senders = []
    for k in range(200):
        g, s = GIVEN[k % len(GIVEN)], SURNAMES[(k // len(GIVEN)) % len(SURNAMES)]
        senders.append(("%s %s" % (g, s), "%s.%s%d@%s" % (g.lower(), s.lower(), k,
                                                         DOMAINS[k % len(DOMAINS)])))
    for d, _ in dirs:
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
    times = sorted(rng.uniform(START, END) for _ in range(n))
    total = 0
    for i in range(n):
        t = int(times[i])
        data = _message(rng, corpus, i + 1, senders, t).encode()
        flags = ""
        r = rng.random()
        if r < 0.10:
            flags += "R"
        if rng.random() < 0.80:
            flags += "S"
        if rng.random() < 0.05:
            flags = "F" + flags
        flags = "".join(sorted(flags))
        name = "%d.M%dP%d.bench,S=%d,W=%d:2,%s" % (t, i + 1, 4242, len(data),
                                                   len(data) + data.count(b"\n"), flags)
        for d, _ in dirs:
            p = os.path.join(d, "cur", name)
            with open(p, "wb") as f:
                f.write(data)
            os.utime(p, (t, t))
        total += len(data)
    for d, owner in dirs:
        if owner is None:
            continue
        top = os.path.dirname(d) if os.path.basename(d) == "mail" else d
        for root, dnames, fnames in os.walk(top):
            os.chown(root, *owner)
            for f in fnames:
                os.chown(os.path.join(root, f), *owner)
    return {"messages": n, "bytes": total}


if __name__ == "__main__":
    import sys
    t0 = time.monotonic()
    st = generate([(d, None) for d in sys.argv[2:]], n=int(sys.argv[1]))
    print("%d messages, %.1f MB, %.1f s" % (st["messages"], st["bytes"] / 2**20,
                                           time.monotonic() - t0))
