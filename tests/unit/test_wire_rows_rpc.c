/*
 * tests/unit/test_wire_rows_rpc.c - the owner's store protocol's JSON
 * (wire/rows_rpc.h): the exact encoding of a read, a batch and their
 * answers, the round trip, and the strict decoder's refusals (names only in
 * its messages, never a value).
 */
#include "harness.h"

#include "core/alloc.h"
#include "core/err.h"
#include "core/json.h"
#include "wire/rows_rpc.h"

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    return j;
}

static void assert_json(const cJSON *j, const char *want)
{
    char *text = NULL;
    assert_int_equal(opc__json_print(j, &text, NULL), OPC_OK);
    assert_string_equal(text, want);
    opc__free(text);
}

static void test_rows_rpc_names(void **state)
{
    (void)state;
    assert_true(opc__rpc_name_valid("token.get"));
    assert_true(opc__rpc_name_valid("a.b"));
    assert_true(opc__rpc_name_valid("token.find_active_name"));
    assert_true(opc__rpc_name_valid("v2.x9"));
    const char *bad[] = {"",           "token",      "token.",     ".get",       "token.get.x",
                         "Token.get",  "token.Get",  "token.get ", "1token.get", "token._get",
                         "tok-en.get", "token..get", "DROP TABLE", NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        if (opc__rpc_name_valid(bad[i])) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }
    char longname[OPC__RPC_MAX_NAME + 2];
    memset(longname, 'a', sizeof longname);
    longname[1] = '.';
    longname[OPC__RPC_MAX_NAME] = '\0';
    assert_true(opc__rpc_name_valid(longname));
    longname[OPC__RPC_MAX_NAME] = 'a';
    longname[OPC__RPC_MAX_NAME + 1] = '\0';
    assert_false(opc__rpc_name_valid(longname));
}

static void test_rows_rpc_read_round_trip(void **state)
{
    (void)state;
    cJSON *args = parse("[\"x\", 12, null, -3]");
    cJSON *o = NULL;
    assert_int_equal(opc__rpc_read_encode("token.get", args, &o, NULL), OPC_OK);
    assert_json(o, "{\"read\":\"token.get\",\"args\":[\"x\",12,null,-3]}");
    opc__rpc_request r;
    assert_int_equal(opc__rpc_request_decode(o, &r, NULL), OPC_OK);
    assert_string_equal(r.read, "token.get");
    assert_true(cJSON_Compare(r.args, args, 1));
    assert_null(r.steps);
    opc__rpc_request_free(&r);
    cJSON_Delete(o);
    cJSON_Delete(args);
}

static void test_rows_rpc_batch_round_trip(void **state)
{
    (void)state;
    cJSON *a0 = parse("[\"token_update\", null, 1700000000]");
    cJSON *a1 = cJSON_CreateArray();
    cJSON_AddItemToArray(a1, cJSON_CreateString("new"));
    cJSON_AddItemToArray(a1, opc__rpc_seq_new(0));
    opc__rpc_step steps[] = {{"change.append", a0, 1}, {"token.rename", a1, 1}};
    cJSON *o = NULL;
    assert_int_equal(opc__rpc_batch_encode(steps, 2, &o, NULL), OPC_OK);
    assert_json(o, "{\"batch\":[{\"stmt\":\"change.append\",\"args\":[\"token_update\",null,"
                   "1700000000],\"expect\":1},{\"stmt\":\"token.rename\",\"args\":[\"new\","
                   "{\"seq\":0}],\"expect\":1}]}");
    opc__rpc_request r;
    assert_int_equal(opc__rpc_request_decode(o, &r, NULL), OPC_OK);
    assert_null(r.read);
    assert_int_equal(r.n_steps, 2);
    assert_string_equal(r.steps[1].stmt, "token.rename");
    assert_int_equal(r.steps[1].expect, 1);
    int64_t k = -1;
    assert_true(opc__rpc_arg_seq(cJSON_GetArrayItem(r.steps[1].args, 1), &k));
    assert_int_equal(k, 0);
    assert_false(opc__rpc_arg_seq(cJSON_GetArrayItem(r.steps[1].args, 0), &k));
    opc__rpc_request_free(&r);
    cJSON_Delete(o);
    /* The encoder refuses what the decoder would: an empty batch, a bad name. */
    opc__ebuf eb;
    assert_int_equal(opc__rpc_batch_encode(steps, 0, &o, &eb), OPC_ERR_INVALID_ARG);
    steps[0].stmt = "changes";
    assert_int_equal(opc__rpc_batch_encode(steps, 2, &o, &eb), OPC_ERR_INVALID_ARG);
    assert_null(o);
    cJSON_Delete(a0);
    cJSON_Delete(a1);
}

/* Requests the decoder refuses, each with OPC_ERR_PARSE and a message that
 * does not repeat the secret-looking value "s3cr3t". */
static void test_rows_rpc_request_refusals(void **state)
{
    (void)state;
    const char *bad[] = {
        "[]",
        "{}",
        "{\"read\":\"token.get\"}",
        "{\"read\":\"token.get\",\"args\":{}}",
        "{\"read\":\"s3cr3t\",\"args\":[]}",
        "{\"read\":\"token.get\",\"args\":[1.5]}",
        "{\"read\":\"token.get\",\"args\":[true]}",
        "{\"read\":\"token.get\",\"args\":[[\"s3cr3t\"]]}",
        "{\"read\":\"token.get\",\"args\":[{\"s3cr3t\":1}]}",
        "{\"read\":\"token.get\",\"args\":[{\"seq\":0,\"x\":1}]}",
        "{\"read\":\"token.get\",\"args\":[{\"seq\":-1}]}",
        "{\"read\":\"token.get\",\"args\":[{\"seq\":1024}]}",
        "{\"read\":\"token.get\",\"args\":[9007199254740992]}",
        "{\"read\":\"token.get\",\"args\":[],\"sql\":\"s3cr3t\"}",
        "{\"read\":\"token.get\",\"args\":[],\"batch\":[]}",
        "{\"batch\":[]}",
        "{\"batch\":{}}",
        "{\"batch\":[{\"stmt\":\"token.get\",\"args\":[]}]}",
        "{\"batch\":[{\"stmt\":\"token.get\",\"args\":[],\"expect\":-1}]}",
        "{\"batch\":[{\"stmt\":\"token.get\",\"args\":[],\"expect\":1000001}]}",
        "{\"batch\":[{\"stmt\":\"token.get\",\"args\":[],\"expect\":1.5}]}",
        "{\"batch\":[{\"stmt\":\"token.get\",\"args\":[],\"expect\":1,\"if\":\"s3cr3t\"}]}",
        "{\"batch\":[{\"stmt\":7,\"args\":[],\"expect\":1}]}",
        "{\"batch\":[\"s3cr3t\"]}",
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        cJSON *o = parse(bad[i]);
        opc__rpc_request r;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        opc_err rc = opc__rpc_request_decode(o, &r, &eb);
        if (rc != OPC_ERR_PARSE) {
            fail_msg("%s: %s", bad[i], opc_errname(rc));
        }
        assert_null(r.steps);
        assert_null(r.read);
        assert_true(strncmp(eb.msg, "malformed", 9) == 0);
        assert_null(strstr(eb.msg, "s3cr3t"));
        cJSON_Delete(o);
    }
    /* Limits: OPC__RPC_MAX_ARGS arguments pass, one more does not; same for steps. */
    cJSON *args = cJSON_CreateArray();
    for (int i = 0; i < OPC__RPC_MAX_ARGS; i++) {
        cJSON_AddItemToArray(args, cJSON_CreateNumber(i));
    }
    cJSON *o = NULL;
    assert_int_equal(opc__rpc_read_encode("a.b", args, &o, NULL), OPC_OK);
    cJSON_Delete(o);
    cJSON_AddItemToArray(args, cJSON_CreateNull());
    assert_int_equal(opc__rpc_read_encode("a.b", args, &o, NULL), OPC_ERR_INVALID_ARG);
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "read", "a.b");
    cJSON_AddItemToObject(req, "args", args);
    opc__rpc_request r;
    assert_int_equal(opc__rpc_request_decode(req, &r, NULL), OPC_ERR_PARSE);
    cJSON_Delete(req);

    cJSON *empty = cJSON_CreateArray();
    opc__rpc_step many[OPC__RPC_MAX_STEPS + 1];
    for (size_t i = 0; i < OPC_ARRAY_LEN(many); i++) {
        many[i] = (opc__rpc_step){"a.b", empty, 0};
    }
    assert_int_equal(opc__rpc_batch_encode(many, OPC__RPC_MAX_STEPS, &o, NULL), OPC_OK);
    assert_int_equal(opc__rpc_request_decode(o, &r, NULL), OPC_OK);
    assert_int_equal(r.n_steps, OPC__RPC_MAX_STEPS);
    opc__rpc_request_free(&r);
    cJSON_AddItemToArray(
        cJSON_GetObjectItem(o, "batch"),
        cJSON_Duplicate(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "batch"), 0), true));
    assert_int_equal(opc__rpc_request_decode(o, &r, NULL), OPC_ERR_PARSE);
    cJSON_Delete(o);
    assert_int_equal(opc__rpc_batch_encode(many, OPC_ARRAY_LEN(many), &o, NULL),
                     OPC_ERR_INVALID_ARG);
    cJSON_Delete(empty);
}

static void test_rows_rpc_answers(void **state)
{
    (void)state;
    cJSON *rows = parse("[[\"a\",1,null],[]]");
    cJSON *o = NULL;
    assert_int_equal(opc__rpc_rows_encode(rows, &o, NULL), OPC_OK);
    assert_json(o, "{\"rows\":[[\"a\",1,null],[]]}");
    const cJSON *back = NULL;
    assert_int_equal(opc__rpc_rows_decode(o, &back, NULL), OPC_OK);
    assert_true(cJSON_Compare(back, rows, 1));
    cJSON_Delete(o);
    cJSON_Delete(rows);
    const char *bad_rows[] = {"{}",
                              "{\"rows\":{}}",
                              "{\"rows\":[1]}",
                              "{\"rows\":[[1.5]]}",
                              "{\"rows\":[[{\"seq\":0}]]}",
                              "{\"rows\":[[true]]}"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad_rows); i++) {
        cJSON *j = parse(bad_rows[i]);
        assert_int_equal(opc__rpc_rows_decode(j, &back, NULL), OPC_ERR_PARSE);
        assert_null(back);
        cJSON_Delete(j);
    }

    int64_t seqs[] = {7, 8};
    assert_int_equal(opc__rpc_seqs_encode(seqs, 2, &o, NULL), OPC_OK);
    assert_json(o, "{\"seqs\":[7,8]}");
    int64_t *got = NULL;
    size_t n = 0;
    assert_int_equal(opc__rpc_seqs_decode(o, &got, &n, NULL), OPC_OK);
    assert_int_equal(n, 2);
    assert_int_equal(got[0], 7);
    assert_int_equal(got[1], 8);
    opc__free(got);
    cJSON_Delete(o);
    int64_t zero = 0;
    assert_int_equal(opc__rpc_seqs_encode(&zero, 1, &o, NULL), OPC_ERR_INVALID_ARG);
    const char *bad_seqs[] = {"{}", "{\"seqs\":[0]}", "{\"seqs\":[1.5]}", "{\"seqs\":[\"1\"]}"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad_seqs); i++) {
        cJSON *j = parse(bad_seqs[i]);
        assert_int_equal(opc__rpc_seqs_decode(j, &got, &n, NULL), OPC_ERR_PARSE);
        assert_null(got);
        cJSON_Delete(j);
    }
    cJSON *j = parse("{\"seqs\":[]}");
    assert_int_equal(opc__rpc_seqs_decode(j, &got, &n, NULL), OPC_OK);
    assert_int_equal(n, 0);
    assert_null(got);
    cJSON_Delete(j);
}

/* Bytes travel as base64url without padding, one text per value. */
static void test_rows_rpc_blob(void **state)
{
    (void)state;
    const unsigned char data[] = {0xfb, 0xff, 0x00, 0x10};
    cJSON *v = opc__rpc_blob_new(data, sizeof data);
    assert_non_null(v);
    assert_string_equal(v->valuestring, "-_8AEA");
    assert_true(opc__rpc_blob_valid(v));
    assert_true(opc__rpc_arg_valid(v));
    unsigned char back[8];
    size_t len = 0;
    assert_int_equal(opc__rpc_blob_get(v, back, sizeof back, &len, NULL), OPC_OK);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(back, data, sizeof data);
    assert_int_equal(opc__rpc_blob_get(v, back, 3, &len, NULL), OPC_ERR_RANGE);
    cJSON_Delete(v);

    v = opc__rpc_blob_new(NULL, 0);
    assert_non_null(v);
    assert_string_equal(v->valuestring, "");
    assert_true(opc__rpc_blob_valid(v));
    assert_int_equal(opc__rpc_blob_get(v, back, sizeof back, &len, NULL), OPC_OK);
    assert_int_equal(len, 0);
    cJSON_Delete(v);

    /* Not base64url, padded, a length of 1 mod 4, non-zero unused bits,
     * not a string. */
    const char *bad[] = {"-_8AEA==", "+/8AEA", "-_8AE", "-_8AEB", "ab c", "YQ=", "YR"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        v = cJSON_CreateString(bad[i]);
        assert_false(opc__rpc_blob_valid(v));
        assert_int_equal(opc__rpc_blob_get(v, back, sizeof back, &len, NULL), OPC_ERR_PARSE);
        cJSON_Delete(v);
    }
    v = cJSON_CreateNumber(1);
    assert_false(opc__rpc_blob_valid(v));
    cJSON_Delete(v);
    v = cJSON_CreateString("YQ");
    assert_int_equal(opc__rpc_blob_get(v, back, sizeof back, &len, NULL), OPC_OK);
    assert_int_equal(len, 1);
    assert_int_equal(back[0], 'a');
    cJSON_Delete(v);

    /* The limit: OPC__RPC_MAX_BLOB bytes. */
    unsigned char *big = opc__calloc(1, OPC__RPC_MAX_BLOB + 1);
    assert_non_null(big);
    v = opc__rpc_blob_new(big, OPC__RPC_MAX_BLOB);
    assert_true(opc__rpc_blob_valid(v));
    cJSON_Delete(v);
    assert_null(opc__rpc_blob_new(big, OPC__RPC_MAX_BLOB + 1));
    char *text = opc__calloc(1, (OPC__RPC_MAX_BLOB + 3) / 3 * 4 + 8);
    assert_non_null(text);
    memset(text, 'A', (OPC__RPC_MAX_BLOB + 3) / 3 * 4);
    v = cJSON_CreateString(text);
    assert_false(opc__rpc_blob_valid(v));
    cJSON_Delete(v);
    opc__free(text);
    opc__free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_rpc_names),
        cmocka_unit_test(test_rows_rpc_read_round_trip),
        cmocka_unit_test(test_rows_rpc_batch_round_trip),
        cmocka_unit_test(test_rows_rpc_request_refusals),
        cmocka_unit_test(test_rows_rpc_answers),
        cmocka_unit_test(test_rows_rpc_blob),
    };
    return cmocka_run_group_tests_name("wire_rows_rpc", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
