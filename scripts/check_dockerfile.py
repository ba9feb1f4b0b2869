#!/usr/bin/env python3
"""Check deploy/Dockerfile against the repository, without a Docker engine.

Nothing is built: the Dockerfile is parsed and each thing it relies on is looked
up where it lives.
- Every path it copies from the build context is a file git tracks, and no
  tracked file under it is dropped by .dockerignore; .dockerignore does drop
  the build outputs and local tooling (target/, node_modules, .tools, .data).
- Every binary it names (`cargo build`/`cargo chef cook --bin`, `-p`, and what it
  copies from target/release/) is a binary target or package of the workspace
  (`cargo metadata --no-deps`), the cached dependency build asks for the same
  binaries as the real one, every workspace member and every path a crate embeds
  at compile time (`sqlx::migrate!`, `include_str!`) is copied into the build,
  and every command compose.yaml and deploy/k8s run is in the image.
- The dashboard: the Node stage runs `npm ci` with only the package manifests
  copied (the cached layer) before the rest of frontend/, then `npm run build`;
  its base satisfies package.json's engines; DASHBOARD_DIR is absolute, is what
  core reads, and is where the stage's output directory (vite.config.ts) is
  copied.
- The runtime stage: a numeric non-root USER, the one deploy/k8s runs as and the
  one useradd makes; the builder's Debian release; only the packages it needs
  (ca-certificates, and the programs compose.yaml's healthchecks run); a
  HEALTHCHECK, or a `# Healthcheck:` comment saying why there is none.

Run by scripts/check_dockerfile.sh with .tools/venv/bin/python (PyYAML).
Usage: check_dockerfile.py [Dockerfile]
Prints one line per failure and a closing `dockerfile-check: N passed, M failed`.
"""
import json
import posixpath
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

import checks
from checks import check

ROOT = Path(__file__).resolve().parent.parent
OUR_IMAGE = "moolai-controller"
# Packages the runtime needs whatever the orchestrator: the roots rustls trusts
# (rustls-native-certs reads the system store).
BASE_PACKAGES = {"ca-certificates"}
# Must never reach the build context (a gigabyte of target/, secrets in .data).
MUST_IGNORE = ["target/x", "frontend/node_modules/x", ".tools/x", ".data/x", ".git/x"]

# --- Dockerfile parsing --------------------------------------------------------

class Instr:
    def __init__(self, line, keyword, rest):
        self.line, self.keyword, self.rest = line, keyword.upper(), rest

    def __repr__(self):
        return f"line {self.line}: {self.keyword} {self.rest}"


class Stage:
    def __init__(self, index, image, name, line):
        self.index, self.image, self.name, self.line = index, image, name, line
        self.instrs = []
        self.workdir = "/"
        self.env = {}

    def label(self):
        return self.name or f"stage {self.index}"


def parse(text):
    """The instructions (continuations joined, comment lines inside them dropped)
    and every comment line."""
    instrs, comments = [], []
    buf, start = "", None
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            comments.append(stripped)
            continue
        if not stripped and start is None:
            continue
        if start is None:
            start = n
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        keyword, _, rest = buf.strip().partition(" ")
        instrs.append(Instr(start, keyword, rest.strip()))
        buf, start = "", None
    return instrs, comments


def stages_of(instrs):
    stages = []
    for ins in instrs:
        if ins.keyword == "FROM":
            words = [w for w in ins.rest.split() if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(len(stages), words[0], name, ins.line))
            continue
        if not stages:
            continue  # ARG before FROM
        st = stages[-1]
        st.instrs.append(ins)
        if ins.keyword == "WORKDIR":
            st.workdir = posixpath.normpath(posixpath.join(st.workdir, ins.rest))
        elif ins.keyword == "ENV":
            for w in shlex.split(ins.rest):
                if "=" in w:
                    k, v = w.split("=", 1)
                    st.env[k] = v
    # A stage FROM another inherits its working directory.
    by_name = {s.name: s for s in stages if s.name}
    for st in stages:
        parent = by_name.get(st.image)
        if parent and not any(i.keyword == "WORKDIR" for i in st.instrs):
            st.workdir = parent.workdir
    return stages


def base_image(stage, stages):
    """The registry image a stage starts from, through `FROM <stage>` chains."""
    by_name = {s.name: s for s in stages if s.name}
    while stage.image in by_name:
        stage = by_name[stage.image]
    return stage.image


class Copy:
    def __init__(self, ins, stage):
        self.ins, self.stage = ins, stage
        if ins.rest.startswith("["):
            words = json.loads(ins.rest)
            flags = []
        else:
            words = shlex.split(ins.rest)
            flags = [w for w in words if w.startswith("--")]
            words = [w for w in words if not w.startswith("--")]
        self.flags = dict((f[2:].split("=", 1) + [""])[:2] for f in flags)
        self.sources, self.dest = words[:-1], words[-1]
        self.src_stage = self.flags.get("from")

    def dest_of(self, source, is_dir=False):
        """Where one source lands: a directory's contents go to dest itself, a
        file into dest/ when dest ends in / or there are several sources."""
        dest = posixpath.join(self.stage.workdir, self.dest)
        if not is_dir and (self.dest.endswith("/") or len(self.sources) > 1):
            dest = posixpath.join(dest, posixpath.basename(source.rstrip("/")))
        return posixpath.normpath(dest)


def copies(stage):
    return [Copy(i, stage) for i in stage.instrs if i.keyword in ("COPY", "ADD")]


def run_words(stage):
    """Each RUN of the stage as shell words."""
    out = []
    for ins in stage.instrs:
        if ins.keyword == "RUN":
            try:
                out.append((ins, shlex.split(ins.rest)))
            except ValueError:
                out.append((ins, ins.rest.split()))
    return out


def commands(words):
    """Split a RUN's words on && ; || into single commands."""
    cmd, out = [], []
    for w in words:
        if w in ("&&", ";", "||", "|"):
            if cmd:
                out.append(cmd)
            cmd = []
        else:
            cmd.append(w)
    if cmd:
        out.append(cmd)
    return out


def flag_values(cmd, *names):
    vals = []
    for i, w in enumerate(cmd):
        for n in names:
            if w == n and i + 1 < len(cmd):
                vals.append(cmd[i + 1])
            elif w.startswith(n + "="):
                vals.append(w.split("=", 1)[1])
    return vals


# --- .dockerignore (moby/patternmatcher's rules) --------------------------------

def ignore_patterns():
    path = ROOT / ".dockerignore"
    pats = []
    if not path.exists():
        return pats
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        if neg:
            line = line[1:].strip()
        line = posixpath.normpath(line).lstrip("/")
        pats.append((neg, re.compile(glob_regex(line))))
    return pats


def glob_regex(pat):
    out, i = "", 0
    while i < len(pat):
        c = pat[i]
        if pat.startswith("**/", i):
            out += "(.*/)?"
            i += 3
            continue
        if pat.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pat.find("]", i)
            out += pat[i:j + 1] if j > 0 else re.escape(c)
            i = j if j > 0 else i
        elif c == "\\" and i + 1 < len(pat):
            out += re.escape(pat[i + 1])
            i += 1
        else:
            out += re.escape(c)
        i += 1
    return "^" + out + "$"


def ignored(path, pats):
    """A path is left out when the last pattern matching it, or one of its parent
    directories, is not an exception."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
    result = False
    for neg, rx in pats:
        if any(rx.match(p) for p in prefixes):
            result = not neg
    return result


# --- the repository -------------------------------------------------------------

def git_files():
    """Tracked paths and their modes."""
    out = subprocess.run(["git", "ls-files", "-s", "-z"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    files = {}
    for entry in out.split("\0"):
        if entry:
            meta, path = entry.split("\t", 1)
            files[path] = meta.split()[0]
    return files


def workspace():
    out = subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    meta = json.loads(out)
    root = Path(meta["workspace_root"])
    members = set(meta["workspace_members"])
    pkgs = [p for p in meta["packages"] if p["id"] in members]
    return {
        "packages": {p["name"] for p in pkgs},
        "bins": {t["name"] for p in pkgs for t in p["targets"] if "bin" in t["kind"]},
        "dirs": sorted(str(Path(p["manifest_path"]).parent.relative_to(root)) for p in pkgs),
    }


EMBED = re.compile(r'\b(migrate|include_str|include_bytes)!\(\s*"([^"]+)"')


def embedded_paths(dirs):
    """Paths outside every member that a crate reads at compile time."""
    out = set()
    for d in dirs:
        for rs in (ROOT / d).rglob("*.rs"):
            for kind, rel in EMBED.findall(rs.read_text(errors="replace")):
                base = ROOT / d if kind == "migrate" else rs.parent
                target = (base / rel).resolve()
                try:
                    target = target.relative_to(ROOT)
                except ValueError:
                    continue
                if not any(str(target) == m or str(target).startswith(m + "/") for m in dirs):
                    out.add(str(target))
    return out


def k8s_containers():
    """(file, pod securityContext, container) of every container of our image."""
    for path in sorted((ROOT / "deploy/k8s/base").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            pod = ((doc or {}).get("spec") or {}).get("template", {}).get("spec")
            if not pod:
                continue
            for c in pod.get("containers", []):
                if str(c.get("image", "")).split(":")[0].split("/")[-1] == OUR_IMAGE:
                    yield path.name, pod.get("securityContext") or {}, c


def compose_services():
    """Services of compose.yaml that run our image (anchors resolved)."""
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name, svc in doc.get("services", {}).items():
        if "build" in svc or str(svc.get("image", "")).split(":")[0] == OUR_IMAGE:
            yield name, svc


# --- the checks -----------------------------------------------------------------

def check_context_copies(stages, files, pats):
    tracked = set(files)
    for st in stages:
        for cp in copies(st):
            if cp.src_stage is not None:
                continue
            for src in cp.sources:
                rel = posixpath.normpath(src).lstrip("/")
                rel = "" if rel == "." else rel
                under = [f for f in tracked if rel == "" or f == rel or f.startswith(rel + "/")]
                if not check(under, f"{st.label()}: {cp.ins.keyword} {src} (line {cp.ins.line}): "
                                    "no file git tracks there"):
                    continue
                dropped = sorted(f for f in under if ignored(f, pats))
                check(not dropped, f"{st.label()}: {src} (line {cp.ins.line}) is copied but .dockerignore "
                                   f"leaves out {dropped[:5]}")
    for path in MUST_IGNORE:
        check(ignored(path, pats), f".dockerignore does not leave out {path.rsplit('/', 1)[0]}/")


def cargo_selection(stage):
    """(kind, bins, packages, instruction) of each cargo build/cook in a stage."""
    out = []
    for ins, words in run_words(stage):
        for cmd in commands(words):
            if cmd[:2] == ["cargo", "build"]:
                kind = "build"
            elif cmd[:3] == ["cargo", "chef", "cook"]:
                kind = "cook"
            else:
                continue
            out.append((kind, set(flag_values(cmd, "--bin")), set(flag_values(cmd, "-p", "--package")),
                        "--locked" in cmd, ins))
    return out


def check_rust(stages, ws):
    built = {}  # stage name -> bins of its cargo build
    for st in stages:
        sel = cargo_selection(st)
        for kind, bins, pkgs, locked, ins in sel:
            for b in sorted(bins - ws["bins"]):
                check(False, f"{st.label()}: cargo {kind} --bin {b} (line {ins.line}) is no binary of the "
                             f"workspace {sorted(ws['bins'])}")
            for p in sorted(pkgs - ws["packages"]):
                check(False, f"{st.label()}: cargo {kind} -p {p} (line {ins.line}) is no package of the workspace")
            check(locked, f"{st.label()}: cargo {kind} (line {ins.line}) without --locked")
        builds = [s for s in sel if s[0] == "build"]
        cooks = [s for s in sel if s[0] == "cook"]
        if builds:
            check(cooks, f"{st.label()}: cargo build with no `cargo chef cook` before it (no cached dependency layer)")
            for c in cooks:
                check((c[1], c[2]) == (builds[-1][1], builds[-1][2]),
                      f"{st.label()}: cargo chef cook (line {c[4].line}) selects {sorted(c[1] | c[2])}, cargo build "
                      f"{sorted(builds[-1][1] | builds[-1][2])}: the cached dependencies would not be the ones used")
            built[st.name] = set().union(*(b[1] for b in builds))
            if not any(b[1] or b[2] for b in builds):
                built[st.name] = set(ws["bins"])
    return built


def check_rust_sources(stages, ws):
    """The stage that prepares the recipe (or builds) has the workspace's sources."""
    prep = [st for st in stages
            if any(cmd[:3] == ["cargo", "chef", "prepare"] for _, w in run_words(st) for cmd in commands(w))]
    if not check(prep, "no stage runs `cargo chef prepare`"):
        return
    st = prep[0]
    copied = set()
    for cp in copies(st):
        if cp.src_stage is None:
            copied |= {posixpath.normpath(s).lstrip("/") for s in cp.sources}
    if "." in copied:
        return
    need = {"Cargo.toml", "Cargo.lock"} | set(ws["dirs"]) | embedded_paths(ws["dirs"])
    for path in sorted(need):
        inside = any(path == c or path.startswith(c + "/") for c in copied)
        check(inside, f"{st.label()}: {path} is not copied (a workspace member, manifest, or a path a crate "
                      "embeds at compile time)")


def check_stage_copies(stages, built):
    """COPY --from=<stage> names an earlier stage; binaries copied out of
    target/release are ones that stage builds."""
    names = {}
    for st in stages:
        for cp in copies(st):
            if cp.src_stage is None:
                continue
            src_stage = names.get(cp.src_stage)
            if not check(src_stage is not None, f"{st.label()}: COPY --from={cp.src_stage} (line {cp.ins.line}) "
                                                "is no earlier stage"):
                continue
            for src in cp.sources:
                m = re.match(r"^(.*)/target/release/([^/]+)$", src)
                if m:
                    check(m.group(2) in built.get(cp.src_stage, set()),
                          f"{st.label()}: copies {m.group(2)} from {cp.src_stage}, which does not build it "
                          f"(builds {sorted(built.get(cp.src_stage, set()))})")
                    check(m.group(1) == src_stage.workdir,
                          f"{st.label()}: {src} is not under {cp.src_stage}'s WORKDIR {src_stage.workdir}")
        if st.name:
            names[st.name] = st


def image_files(runtime):
    """Paths the runtime stage puts in place, with where they come from."""
    out = {}
    for cp in copies(runtime):
        for src in cp.sources:
            out[cp.dest_of(src)] = (cp, src)
    return out


def check_commands(runtime, files):
    """Every command compose.yaml and deploy/k8s start, and the ENTRYPOINT/CMD,
    is a file the image puts in /usr/local/bin; those copied from the context are
    executable in git."""
    placed = image_files(runtime)
    in_path = {posixpath.basename(p): v for p, v in placed.items() if posixpath.dirname(p) == "/usr/local/bin"}
    wanted = []
    for ins in runtime.instrs:
        if ins.keyword in ("ENTRYPOINT", "CMD"):
            words = json.loads(ins.rest) if ins.rest.startswith("[") else shlex.split(ins.rest)
            check(ins.rest.startswith("["), f"{ins.keyword} (line {ins.line}) in shell form: signals would reach "
                                            "the shell, not the process")
            wanted.append((words[0], f"the Dockerfile's {ins.keyword}"))
    for name, svc in compose_services():
        cmd = svc.get("command")
        if cmd:
            words = cmd if isinstance(cmd, list) else shlex.split(cmd)
            wanted.append((words[0], f"compose.yaml service {name}"))
    for fname, _, c in k8s_containers():
        if c.get("args"):
            wanted.append((c["args"][0], f"deploy/k8s/base/{fname} container {c['name']}"))
    for prog, who in wanted:
        check(prog in in_path, f"{who} runs {prog}, which the image does not put in /usr/local/bin")
    for name, (cp, src) in sorted(in_path.items()):
        if cp.src_stage is None and "chmod" not in cp.flags:
            check(files.get(posixpath.normpath(src)) == "100755",
                  f"{src} is copied to /usr/local/bin/{name} but is not executable in git")


def check_dashboard(stages, runtime):
    npm_stages = [st for st in stages
                  if any(cmd[:2] == ["npm", "ci"] for _, w in run_words(st) for cmd in commands(w))]
    if not check(len(npm_stages) == 1, f"expected one stage that runs `npm ci`, found {len(npm_stages)}"):
        return
    st = npm_stages[0]
    pkg = json.loads((ROOT / "frontend/package.json").read_text())
    # The base satisfies package.json's engines (">=MAJOR.MINOR").
    m = re.match(r"^node:(\d+)(?:\.(\d+))?", base_image(st, stages))
    want = re.match(r"^>=\s*(\d+)(?:\.(\d+))?", pkg.get("engines", {}).get("node", ">=0"))
    if check(m and want, f"{st.label()}: base {st.image} is no node:<version> image, or engines unreadable"):
        # A tag without a minor (node:22) is that line's newest release.
        have = (int(m.group(1)), int(m.group(2)) if m.group(2) else 99)
        need = (int(want.group(1)), int(want.group(2) or 0))
        check(have >= need, f"{st.label()}: {st.image} is older than engines.node {pkg['engines']['node']}")

    # Order: manifests copied, npm ci, the rest copied, npm run build.
    seq = []
    for ins in st.instrs:
        if ins.keyword in ("COPY", "ADD"):
            cp = Copy(ins, st)
            seq.append(("copy", {posixpath.normpath(s) for s in cp.sources}, ins))
        elif ins.keyword == "RUN":
            for cmd in commands(shlex.split(ins.rest)):
                if cmd[:2] == ["npm", "ci"]:
                    seq.append(("ci", None, ins))
                elif cmd[:3] == ["npm", "run", "build"]:
                    seq.append(("build", None, ins))
    kinds = [k for k, _, _ in seq]
    if not check("ci" in kinds and "build" in kinds, f"{st.label()}: needs both `npm ci` and `npm run build`"):
        return
    ci, build = kinds.index("ci"), kinds.index("build")
    manifests = {"frontend/package.json", "frontend/package-lock.json"}
    before = set().union(*[s for k, s, _ in seq[:ci] if k == "copy"] or [set()])
    check(before == manifests, f"{st.label()}: before `npm ci` it copies {sorted(before)}, not exactly "
                               f"{sorted(manifests)}: any change of the sources would rerun npm ci")
    rest = [s for k, s, _ in seq[ci:build] if k == "copy"]
    check(any("frontend" in s for s in rest),
          f"{st.label()}: frontend/ is not copied between `npm ci` and `npm run build`")

    # Where the build lands: vite.config.ts's outDir, under the stage's WORKDIR.
    vite = (ROOT / "frontend/vite.config.ts").read_text()
    out_dir = (re.search(r"outDir:\s*['\"]([^'\"]+)['\"]", vite) or [None, "dist"])[1]
    dist = posixpath.normpath(posixpath.join(st.workdir, out_dir))

    config = (ROOT / "core/src/config.rs").read_text()
    check('env = "DASHBOARD_DIR"' in config, "core/src/config.rs no longer reads DASHBOARD_DIR")
    ddir = runtime.env.get("DASHBOARD_DIR")
    if not check(ddir, "the runtime stage sets no DASHBOARD_DIR (core's default frontend/dist is relative)"):
        return
    check(ddir.startswith("/"), f"DASHBOARD_DIR={ddir} is not absolute")
    dest = [cp.dest_of(src, is_dir=True) for cp in copies(runtime) if cp.src_stage == st.name for src in cp.sources
            if posixpath.normpath(src) == dist]
    check(dest, f"the runtime stage does not copy {st.label()}'s {dist}")
    check(all(d.rstrip("/") == posixpath.normpath(ddir) for d in dest),
          f"the dashboard is copied to {dest}, DASHBOARD_DIR is {ddir}")


def apt_installed(stage):
    pkgs = set()
    for ins, words in run_words(stage):
        for cmd in commands(words):
            if cmd[:2] in (["apt-get", "install"], ["apt", "install"]):
                pkgs |= {w.split("=")[0] for w in cmd[2:] if not w.startswith("-")}
                check("--no-install-recommends" in cmd, f"line {ins.line}: apt-get install without --no-install-recommends")
                check("/var/lib/apt/lists/*" in ins.rest, f"line {ins.line}: the apt lists stay in the layer")
    return pkgs


def check_runtime(stages, runtime, comments):
    # USER: numeric, not root, the last word on it; useradd makes it; deploy/k8s runs as it.
    users = [i for i in runtime.instrs if i.keyword == "USER"]
    if check(users, "the runtime stage has no USER: it would run as root"):
        user = users[-1].rest.split(":")[0]
        if check(user.isdigit(), f"USER {users[-1].rest} is not numeric: Kubernetes' runAsNonRoot cannot verify a name"):
            check(int(user) != 0, "USER is root")
            made = [flag_values(cmd, "--uid", "-u") for _, w in run_words(runtime) for cmd in commands(w)
                    if cmd and cmd[0] == "useradd"]
            check([user] in made, f"USER {user}: no `useradd --uid {user}` in the runtime stage "
                                  "(make-secrets hands the files to the named user)")
            for fname, ctx, c in k8s_containers():
                check(str(ctx.get("runAsUser")) == user,
                      f"deploy/k8s/base/{fname}: runAsUser {ctx.get('runAsUser')} is not the image's USER {user}")

    # The builder's Debian release is the runtime's (glibc).
    m = re.match(r"^debian:([a-z]+)", runtime.image)
    if check(m, f"the runtime stage's base {runtime.image} is not debian:<release>: update this check"):
        for st in stages[:-1]:
            if cargo_selection(st):
                img = base_image(st, stages)
                check(m.group(1) in img, f"{st.label()} builds on {img}, the runtime is {runtime.image}: "
                                         "the binaries may need a newer glibc")

    # Packages: the base ones, and the programs compose's healthchecks run.
    probes = set()
    for name, svc in compose_services():
        test = (svc.get("healthcheck") or {}).get("test")
        if not test:
            continue
        if isinstance(test, str):
            test = ["CMD-SHELL", test]
        words = test[1:] if test[0] == "CMD" else shlex.split(test[1]) if test[0] == "CMD-SHELL" else []
        if words:
            probes.add(words[0])
    pkgs = apt_installed(runtime)
    for p in sorted(BASE_PACKAGES | probes):
        check(p in pkgs, f"the runtime stage does not install {p} (compose.yaml's healthchecks or the binaries need it)")
    for p in sorted(pkgs - BASE_PACKAGES - probes):
        check(False, f"the runtime stage installs {p}, which nothing uses")

    has_instr = any(i.keyword == "HEALTHCHECK" for i in runtime.instrs)
    documented = any(re.match(r"#\s*Healthcheck:", c, re.I) for c in comments)
    check(has_instr or documented, "no HEALTHCHECK and no `# Healthcheck:` comment saying how the roles are probed")


def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "deploy/Dockerfile"
    instrs, comments = parse(path.read_text())
    stages = stages_of(instrs)
    if not check(stages, f"{path}: no FROM"):
        sys.exit(1)
    runtime = stages[-1]
    files = git_files()
    ws = workspace()
    check_context_copies(stages, files, ignore_patterns())
    built = check_rust(stages, ws)
    check_rust_sources(stages, ws)
    check_stage_copies(stages, built)
    check_commands(runtime, files)
    check_dashboard(stages, runtime)
    check_runtime(stages, runtime, comments)
    sys.exit(checks.summary("dockerfile-check"))


if __name__ == "__main__":
    main()
