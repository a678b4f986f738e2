#!/usr/bin/env bash
# The CI templates of ci/templates/ name only what exists: each one's
# commands (read from the YAML with compose-check --get, or the script)
# install with ci/install-deps.sh, configure and build with CMake into one
# build directory, and play `ssesim run` from that directory's bin/ with
# arguments that `ssesim run --dry-run` accepts as they are (in a scratch
# checkout whose directories the template made as it says); the JUnit
# file and the artefact folder it names are the ones the template
# publishes, even when the run failed. A template edited to name a missing
# script, another build directory or a missing scenario set is refused.
# Commands are split into words on purpose (set -- $args).
# shellcheck disable=SC2086
. "$(dirname "$0")/lib.sh"

TPL=$SRC/ci/templates
get() {
    "$BIN/compose-check" --get "$1" "$2"
}

# commands FILE: the template's shell commands, continuations joined,
# blank lines and comments left out.
commands() {
    case $1 in
    *github-actions.yml) get 'jobs.*.steps.*.run' "$1" ;;
    *gitlab-ci.yml) get '*.script.*' "$1" ;;
    *.sh) cat "$1" ;;
    esac | sed -e ':a' -e '/\\$/N' -e 's/\\\n//' -e 'ta' |
        sed -e 's/^[[:space:]]*//' -e 's/[[:space:]][[:space:]]*/ /g' |
        grep -v -e '^#' -e '^$'
}

# published FILE: what the template hands to the CI system, one per line:
# "junit PATH" and "upload PATH".
published() {
    case $1 in
    *github-actions.yml)
        [ "$(get 'jobs.*.steps.*.if' "$1" | grep -c '^always()$')" = 2 ] ||
            { echo "publishing steps not both if: always()"; return 1; }
        get 'jobs.*.steps.*.with.report_paths' "$1" | sed 's/^/junit /'
        get 'jobs.*.steps.*.with.path' "$1" | sed 's/^/upload /'
        ;;
    *gitlab-ci.yml)
        [ "$(get '*.artifacts.when' "$1")" = always ] ||
            { echo "artifacts not when: always"; return 1; }
        get '*.artifacts.reports.junit' "$1" | sed 's/^/junit /'
        get '*.artifacts.paths.*' "$1" | sed 's/^/upload /'
        ;;
    *.sh)
        # A script publishes nothing itself: it names what it leaves.
        sed -n 's/^#   \([^ ]*\) .*/\1/p' "$1" | sed 's/^/leaves /'
        ;;
    esac
}

# check_template FILE: 0 when every command exists and the run is
# accepted; else the problem on stdout and 1.
check_template() {
    f=$1
    bdir="" installs=0 configured=0 built=0 runs=0 junit="" arts=""
    # The checkout as the CI job sees it: what ssesim run reads is there,
    # and only the directories the template itself makes.
    W=$(mktemp -d "$T/work.XXXXXX")
    ln -s "$SRC/scenarios" "$W/scenarios"
    commands "$f" >"$T/commands" || { echo "no commands in $f"; return 1; }
    while read -r cmd args; do
        case $cmd in
        ci/install-deps.sh)
            [ -x "$SRC/$cmd" ] || { echo "$cmd: not in sselab"; return 1; }
            installs=$((installs + 1))
            ;;
        cmake)
            set -- $args
            if [ "$1" = --build ]; then
                if [ -z "$bdir" ] || [ "$2" != "$bdir" ]; then
                    echo "cmake --build $2, configured ${bdir:-nothing}"
                    return 1
                fi
                built=1
            else
                [ "$1 $2 $3" = "-S . -B" ] && [ -f "$SRC/CMakeLists.txt" ] ||
                    { echo "cmake $args: not -S . -B DIR"; return 1; }
                bdir=$4
                configured=1
            fi
            ;;
        */ssesim)
            # CMake puts the programs in bin/ of the build directory.
            [ -n "$bdir" ] && [ "$cmd" = "$bdir/bin/ssesim" ] ||
                { echo "$cmd: not ${bdir:-?}/bin/ssesim"; return 1; }
            # The script keeps the exit code to report it.
            case $f in
            *.sh) args=${args% || rc=\$?} ;;
            esac
            set -- $args
            [ "$1" = run ] || { echo "ssesim $1: not run"; return 1; }
            shift
            if ! (cd "$W" && "$BIN/ssesim" run --dry-run "$@") \
                >"$T/plan" 2>&1; then
                echo "ssesim run --dry-run $*: $(head -n 1 "$T/plan")"
                return 1
            fi
            while [ $# -gt 0 ]; do
                case $1 in
                --junit) junit=$2 ;;
                --artifacts) arts=$2 ;;
                esac
                shift
            done
            runs=$((runs + 1))
            ;;
        mkdir)
            set -- $args
            [ "$1" = -p ] && [ $# = 2 ] && [ "${2#/}" = "$2" ] &&
                [ "${2#*..}" = "$2" ] ||
                { echo "mkdir $args: not mkdir -p RELATIVE-DIR"; return 1; }
            mkdir -p "$W/$2"
            ;;
        set | rc=0 | echo | exit)
            case $f in
            *.sh) ;;
            *) echo "$cmd in a YAML template"; return 1 ;;
            esac
            ;;
        *)
            echo "$cmd: no such command in sselab"
            return 1
            ;;
        esac
    done <"$T/commands"
    [ "$installs$configured$built$runs" = 1111 ] || {
        echo "installs $installs, configures $configured, builds $built," \
            "runs $runs: expected one of each"
        return 1
    }
    [ -n "$junit" ] && [ -n "$arts" ] ||
        { echo "ssesim run without --junit and --artifacts"; return 1; }
    published "$f" >"$T/published" || { cat "$T/published"; return 1; }
    if ! grep -qx -e "junit $junit" -e "leaves $junit" "$T/published"; then
        echo "$junit is not what is published: $(cat "$T/published")"
        return 1
    fi
    while read -r _ p; do
        case $arts/ in
        "${p%/}"/*) return 0 ;;
        esac
    done <"$T/published"
    echo "$arts is not under what is uploaded: $(cat "$T/published")"
    return 1
}

n=0
for f in "$TPL"/*; do
    case $f in
    *github-actions.yml | *gitlab-ci.yml | *.sh) ;;
    *) fail "$f: a template this test does not read" ;;
    esac
    why=$(check_template "$f") || fail "$f: $why"
    n=$((n + 1))
done
[ "$n" = 3 ] || fail "$n templates, expected 3"
[ -x "$TPL/run-faults.sh" ] || fail "run-faults.sh is not executable"
pass "3 templates: install-deps.sh, cmake -S . -B build, build/bin/ssesim" \
    "run accepted by --dry-run; the JUnit file and artefacts published"

# refused TEMPLATE SED PATTERN: the template so edited is refused, saying
# PATTERN.
refused() {
    sed "$2" "$TPL/$1" >"$T/$1"
    ! cmp -s "$T/$1" "$TPL/$1" || fail "the edit $2 changed nothing"
    if why=$(check_template "$T/$1"); then
        fail "$1 edited with $2 was accepted"
    fi
    echo "$why" | grep -q -- "$3" || fail "$1, $2: said '$why'"
}
refused github-actions.yml 's|scenarios/faults|scenarios/fault|' \
    'ssesim run --dry-run .*scenarios/fault'
refused gitlab-ci.yml 's|ci/install-deps.sh|ci/install-dependencies.sh|' \
    'ci/install-dependencies.sh: no such command'
refused run-faults.sh 's|cmake --build build|cmake --build out|' \
    'cmake --build out, configured build'
refused gitlab-ci.yml 's|junit: ssesim-out/junit.xml|junit: out.xml|' \
    'ssesim-out/junit.xml is not what is published'
refused github-actions.yml 's|--jobs 2|--jobs two|' 'ssesim run --dry-run'
refused run-faults.sh '/^mkdir -p ssesim-out$/d' \
    'cannot create ssesim-out/junit.xml'
pass "a missing scenario set, script, build or JUnit directory, an" \
    "unpublished JUnit file and a bad option are refused"
