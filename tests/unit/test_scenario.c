/*
 * test_scenario.c: the scenario loader (lib/scenario.c): what it accepts,
 * and where and how it says what is wrong.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

static char err[1024];

static struct scenario *
load(const char *text)
{
    struct scenario *s = NULL;

    err[0] = '\0';
    if (scenario_load_string(text, strlen(text), "t.yaml", &s, err,
                             sizeof(err)) != 0)
        return NULL;
    return s;
}

/* Loading text fails, and the message starts with want. */
static void
refused(const char *text, const char *want)
{
    struct scenario *s = load(text);

    ck_assert_msg(s == NULL, "loaded, expected \"%s\"", want);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
                  "got \"%s\", expected it to start \"%s\"", err, want);
}

static const char every_step[] =
    "name: every-step\n"
    "description: one of each\n"
    "tags: [smoke, e2e]\n"
    "cases: [K05]\n"
    "region: us\n"
    "time_scale: 20\n"
    "seed: 7\n"
    "connector:\n"
    "  properties: {registration_interval: 60}\n"
    "  settings: {Globals: {Contexts: {Events: {sink_backoff_max: 4s}}}}\n"
    "steps:\n"
    "  - fault: {action: http.status, host: api-sse.cisco.com, status: 403,"
    " as: reg403}\n"
    "  - fmc: {activation: token, wait: false}\n"
    "  - send: {count: 1000, size: 1024, rate: 0, types: [intrusion, si]}\n"
    "  - expect: {log: {level: warn, pattern: 'HTTP 403', min: 2, max: 6},"
    " within: 60s}\n"
    "  - expect: {status: {not: Enrolled}, for: 20s}\n"
    "  - expect: {journal: {host: api-sse.cisco.com, event: request,"
    " status: 403, path: /providers, min: 2, max: 6}, within: 5m}\n"
    "  - clear: reg403\n"
    "  - expect: {status: Enrolled, within: 300s}\n"
    "  - expect: {ingest: {delivered: all, missing: 0, duplicates: 0},"
    " within: 2m}\n"
    "  - expect: {endpoint: {name: eventing, up: true}, within: 1s}\n"
    "  - start: eventhandler\n"
    "  - stop: connector\n"
    "  - kill: eventhandler\n"
    "  - restart: ssesim\n"
    "  - hostmap: {remove: eventing-ingest.sse.itd.cisco.com}\n"
    "  - hostmap: {restore: all}\n"
    "  - wait: 1m30s\n"
    "  - clear: all\n";

START_TEST(loads_every_step_kind)
{
    struct scenario *s = load(every_step);
    const struct scn_step *st;
    const struct scn_tree *t;
    char d[256];

    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_str_eq(s->name, "every-step");
    ck_assert_str_eq(s->description, "one of each");
    ck_assert_uint_eq(s->ntags, 2);
    ck_assert_str_eq(s->tags[1], "e2e");
    ck_assert_uint_eq(s->ncases, 1);
    ck_assert(s->time_scale == 20);
    ck_assert(s->has_seed && s->seed == 7);
    ck_assert_uint_eq(s->nsteps, 18);

    st = &s->steps[0];
    ck_assert_int_eq(st->kind, SCN_STEP_FAULT);
    ck_assert_str_eq(st->u.fault.as, "reg403");
    ck_assert_str_eq(st->u.fault.action, "http.status");
    ck_assert_int_eq(
        json_integer_value(json_object_get(st->u.fault.rule, "status")), 403);
    ck_assert_ptr_null(json_object_get(st->u.fault.rule, "as"));
    ck_assert_uint_eq(st->mark.line, 12);
    ck_assert_uint_eq(st->mark.column, 5);

    ck_assert_int_eq(s->steps[1].kind, SCN_STEP_FMC);
    ck_assert(!s->steps[1].u.fmc.whole && !s->steps[1].u.fmc.wait);
    ck_assert_int_eq(s->steps[2].kind, SCN_STEP_SEND);
    ck_assert_uint_eq(s->steps[2].u.send.count, 1000);
    ck_assert_str_eq(s->steps[2].u.send.types, "intrusion,si");

    st = &s->steps[3];
    ck_assert_int_eq(st->u.expect.kind, SCN_EXPECT_LOG);
    ck_assert_str_eq(st->u.expect.u.log.level, "warning");
    ck_assert_int_eq(st->u.expect.u.log.max, 6);
    ck_assert_int_eq(st->u.expect.time_ms, 60000);
    ck_assert(!st->u.expect.hold);

    st = &s->steps[4];
    ck_assert(st->u.expect.hold && st->u.expect.u.status.negate);
    ck_assert_int_eq(s->steps[5].u.expect.u.journal.status, 403);
    ck_assert_int_eq(s->steps[5].u.expect.time_ms, 300000);
    ck_assert_int_eq(s->steps[6].kind, SCN_STEP_CLEAR);
    ck_assert(s->steps[8].u.expect.u.ingest.all);
    ck_assert_int_eq(s->steps[8].u.expect.u.ingest.missing, 0);
    ck_assert_int_eq(s->steps[8].u.expect.u.ingest.duplicates_max, -1);
    ck_assert_int_eq(s->steps[9].u.expect.u.endpoint.up, 1);
    ck_assert_int_eq(s->steps[10].kind, SCN_STEP_START);
    ck_assert_int_eq(s->steps[10].u.part, SCN_PART_EVENTHANDLER);
    ck_assert_int_eq(s->steps[11].kind, SCN_STEP_STOP);
    ck_assert_int_eq(s->steps[12].kind, SCN_STEP_KILL);
    ck_assert_int_eq(s->steps[13].kind, SCN_STEP_RESTART);
    ck_assert_int_eq(s->steps[13].u.part, SCN_PART_SSESIM);
    ck_assert(s->steps[14].u.hostmap.remove);
    ck_assert_str_eq(s->steps[15].u.hostmap.host, "all");
    ck_assert_int_eq(s->steps[16].kind, SCN_STEP_WAIT);
    ck_assert_int_eq(s->steps[16].u.wait_ms, 90000);
    ck_assert_str_eq(s->steps[17].u.clear.name, "all");

    t = scenario_tree_find(s->settings,
                           "Globals.Contexts.Events.sink_backoff_max");
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->value, "4s");
    t = scenario_tree_find(s->properties, "registration_interval");
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->value, "60");

    scenario_step_describe(&s->steps[4], d, sizeof(d));
    ck_assert_str_eq(d, "expect status not Enrolled for 20s");
    scenario_step_describe(&s->steps[16], d, sizeof(d));
    ck_assert_str_eq(d, "wait 1m30s");
    scenario_free(s);
}
END_TEST

START_TEST(defaults_fill_what_is_left_out)
{
    struct scenario *s = load("name: tiny\nsteps:\n  - fmc:\n"
                              "  - expect: {status: Enrolled, within: 1s}\n");

    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_str_eq(s->region, "us");
    ck_assert(s->time_scale == 0 && !s->has_seed);
    ck_assert(s->steps[0].u.fmc.whole && s->steps[0].u.fmc.wait);
    ck_assert_int_eq(s->steps[0].u.fmc.within_ms, 120000);
    scenario_free(s);
}
END_TEST

START_TEST(misspelt_key_names_place_and_expected_keys)
{
    refused("name: x\nstpes: []\n",
            "t.yaml:2:1: unknown key \"stpes\" (expected one of: name, "
            "description, tags, cases, region, time_scale, seed, connector, "
            "steps)");
    refused("name: x\nsteps:\n  - expect: {status: Enrolled, withn: 5s}\n",
            "t.yaml:3:32: steps[0].expect: unknown key \"withn\" (expected "
            "one of: status, log, ingest, journal, endpoint, within, for)");
    refused("name: x\nsteps:\n  - wiat: 5s\n",
            "t.yaml:3:5: steps[0]: unknown key \"wiat\" (expected one of: "
            "fault, clear, fmc, send, start");
}
END_TEST

START_TEST(wrong_type_is_named)
{
    refused("name: x\nsteps:\n  - send: {count: many}\n",
            "t.yaml:3:19: steps[0].send.count: expected a whole number from "
            "0 to 4294967295, got \"many\"");
    refused("name: x\nsteps: {wait: 5s}\n",
            "t.yaml:2:8: steps: expected a list, got a mapping");
    refused("name: x\nsteps:\n  - fmc: {wait: maybe}\n",
            "t.yaml:3:17: steps[0].fmc.wait: expected true or false, got "
            "\"maybe\"");
    refused("name: x\nsteps:\n  - start: ssesim\n",
            "t.yaml:3:12: steps[0].start: expected connector or "
            "eventhandler, got \"ssesim\"");
}
END_TEST

START_TEST(missing_name_is_refused)
{
    refused("description: no name\nsteps:\n  - wait: 1s\n",
            "t.yaml:1:1: missing required key \"name\"");
    refused("name: x\n", "t.yaml:1:1: missing required key \"steps\"");
    refused("name: x\nsteps:\n  - send: {size: 1024}\n",
            "t.yaml:3:11: steps[0].send: missing required key \"count\"");
}
END_TEST

START_TEST(bad_duration_is_refused)
{
    refused("name: x\nsteps:\n  - expect: {status: Enrolled, within: soon}\n",
            "t.yaml:3:40: steps[0].expect.within: expected a duration such "
            "as \"30s\", got \"soon\"");
    refused("name: x\nsteps:\n  - wait: 5\n",
            "t.yaml:3:11: steps[0].wait: expected a duration such as "
            "\"30s\", got \"5\"");
}
END_TEST

START_TEST(durations_parse_and_print_go_style)
{
    int64_t ms;
    char buf[32];

    ck_assert_int_eq(scenario_parse_duration("250ms", &ms), 0);
    ck_assert_int_eq(ms, 250);
    ck_assert_int_eq(scenario_parse_duration("1m30s", &ms), 0);
    ck_assert_int_eq(ms, 90000);
    ck_assert_int_eq(scenario_parse_duration("1.5s", &ms), 0);
    ck_assert_int_eq(ms, 1500);
    ck_assert_int_eq(scenario_parse_duration("2h", &ms), 0);
    ck_assert_int_eq(ms, 7200000);
    ck_assert_int_eq(scenario_parse_duration("10us", &ms), 0);
    ck_assert_int_eq(ms, 1);
    ck_assert_int_eq(scenario_parse_duration("0", &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(scenario_parse_duration("5", &ms), -1);
    ck_assert_int_eq(scenario_parse_duration("-5s", &ms), -1);
    ck_assert_int_eq(scenario_parse_duration("5 s", &ms), -1);
    ck_assert_int_eq(scenario_parse_duration("", &ms), -1);
    ck_assert_int_eq(scenario_parse_duration("s", &ms), -1);
    scenario_format_duration(90000, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1m30s");
    scenario_format_duration(1500, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1.5s");
    scenario_format_duration(250, buf, sizeof(buf));
    ck_assert_str_eq(buf, "250ms");
    scenario_format_duration(3600000, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1h");
}
END_TEST

START_TEST(fault_with_bad_field_is_reported_at_the_fault)
{
    refused("name: x\nsteps:\n  - wait: 1s\n"
            "  - fault: {action: http.nope, host: api-sse.cisco.com}\n",
            "t.yaml:4:13: steps[1].fault: unknown action \"http.nope\"");
    refused("name: x\nsteps:\n"
            "  - fault:\n"
            "      action: http.status\n"
            "      host: api-sse.cisco.com\n"
            "      status: nine\n",
            "t.yaml:6:7: steps[0].fault: ");
    refused("name: x\nsteps:\n  - fault: {host: api-sse.cisco.com}\n",
            "t.yaml:3:12: steps[0].fault: missing required key \"action\"");
}
END_TEST

START_TEST(clear_names_an_earlier_fault)
{
    refused("name: x\nsteps:\n  - clear: reg403\n",
            "t.yaml:3:12: steps[0].clear: expected \"all\" or the \"as\" "
            "name of an earlier fault, got \"reg403\"");
}
END_TEST

START_TEST(one_step_per_item)
{
    refused("name: x\nsteps:\n  - wait: 1s\n    stop: connector\n",
            "t.yaml:3:5: steps[0]: one step per list item, got 2 keys");
}
END_TEST

START_TEST(expectation_needs_one_condition_and_one_time)
{
    refused("name: x\nsteps:\n  - expect: {within: 5s}\n",
            "t.yaml:3:13: steps[0].expect: expected exactly one of status, "
            "log, ingest, journal, endpoint (got 0)");
    refused("name: x\nsteps:\n  - expect: {status: Enrolled}\n",
            "t.yaml:3:13: steps[0].expect: expected exactly one of within, "
            "for (got 0)");
    refused("name: x\nsteps:\n  - expect: {status: Enroled, for: 1s}\n",
            "t.yaml:3:22: steps[0].expect.status: expected one of Disabled,");
    refused("name: x\nsteps:\n"
            "  - expect: {log: {pattern: 'a(', min: 1}, within: 1s}\n",
            "t.yaml:3:29: steps[0].expect.log.pattern: not a POSIX extended "
            "regular expression");
    refused("name: x\nsteps:\n"
            "  - expect: {journal: {event: x, min: 3, max: 2}, within: 1s}\n",
            "t.yaml:3:23: steps[0].expect.journal: min (3) is above max (2)");
}
END_TEST

START_TEST(runner_owned_settings_are_refused)
{
    refused("name: x\nconnector:\n  settings:\n    Globals:\n"
            "      time_scale: 5\nsteps:\n  - wait: 1s\n",
            "t.yaml:5:7: connector.settings.Globals.time_scale: set by the "
            "runner");
    refused("name: x\nconnector:\n  properties: {connector_port: 1}\n"
            "steps:\n  - wait: 1s\n",
            "t.yaml:3:16: connector.properties.connector_port: set by the "
            "runner");
}
END_TEST

START_TEST(yaml_syntax_error_has_a_place)
{
    refused("name: x\nsteps:\n  - wait: 1s\n  wait: [\n", "t.yaml:");
    ck_assert_ptr_nonnull(strstr(err, ": "));
    refused("", "t.yaml:1:1: the file is empty");
    refused("name: x\nsteps: [{wait: 1s}]\n---\nname: y\n",
            "t.yaml:4:1: one scenario per file");
}
END_TEST

START_TEST(duplicate_names_across_files_are_refused)
{
    struct scenario *list[3];
    const char *texts[] = {"name: a\nsteps: [{wait: 1s}]\n",
                           "name: b\nsteps: [{wait: 1s}]\n",
                           "name: a\nsteps: [{wait: 2s}]\n"};
    const char *files[] = {"one.yaml", "two.yaml", "three.yaml"};

    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(scenario_load_string(texts[i], strlen(texts[i]),
                                              files[i], &list[i], err,
                                              sizeof(err)),
                         0);
    ck_assert_int_eq(scenario_names_unique(list, 2, err, sizeof(err)), 0);
    ck_assert_int_eq(scenario_names_unique(list, 3, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "three.yaml: name \"a\" is taken by one.yaml too "
                          "(names are unique in a run)");
    for (int i = 0; i < 3; i++)
        scenario_free(list[i]);
}
END_TEST

START_TEST(repeated_key_is_refused)
{
    refused("name: x\nname: y\nsteps: [{wait: 1s}]\n",
            "t.yaml:2:1: name: given twice");
}
END_TEST

static Suite *
scenario_suite(void)
{
    Suite *s = suite_create("scenario");
    TCase *tc = tcase_create("load");

    tcase_add_test(tc, loads_every_step_kind);
    tcase_add_test(tc, defaults_fill_what_is_left_out);
    tcase_add_test(tc, misspelt_key_names_place_and_expected_keys);
    tcase_add_test(tc, wrong_type_is_named);
    tcase_add_test(tc, missing_name_is_refused);
    tcase_add_test(tc, bad_duration_is_refused);
    tcase_add_test(tc, durations_parse_and_print_go_style);
    tcase_add_test(tc, fault_with_bad_field_is_reported_at_the_fault);
    tcase_add_test(tc, clear_names_an_earlier_fault);
    tcase_add_test(tc, one_step_per_item);
    tcase_add_test(tc, expectation_needs_one_condition_and_one_time);
    tcase_add_test(tc, runner_owned_settings_are_refused);
    tcase_add_test(tc, yaml_syntax_error_has_a_place);
    tcase_add_test(tc, duplicate_names_across_files_are_refused);
    tcase_add_test(tc, repeated_key_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(scenario_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
