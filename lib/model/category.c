/*
 * model/category.c - item categories and their built-in fields.
 *
 * The built-in fields are what opc__item_prepare() adds to an item whose
 * client left them out (spec §2.4). The spec fixes LOGIN and PASSWORD; the
 * rest follow 1Password's templates where they are well known, trimmed to
 * the top-level fields. Menu-like fields (a database's type, a card's
 * type, ...) are plain STRING: the menu options are not part of the API.
 * Only the well-known autofill fields carry a purpose: LOGIN username
 * (USERNAME) and password (PASSWORD), PASSWORD password (PASSWORD), and
 * notesPlain (NOTES) everywhere.
 *
 *   category                fields (id "label" TYPE, STRING when not given)
 *   LOGIN                   username U, password P CONCEALED, notesPlain N
 *   PASSWORD                password P CONCEALED, notesPlain N
 *   API_CREDENTIAL          username, credential CONCEALED, type, filename,
 *                           validFrom "valid from" DATE, expires DATE,
 *                           hostname, notesPlain N
 *   SERVER                  url "URL" URL, username, password CONCEALED,
 *                           notesPlain N
 *   DATABASE                type, hostname "server", port, database,
 *                           username, password CONCEALED, sid "SID", alias,
 *                           options "connection options", notesPlain N
 *   CREDIT_CARD             cardholder "cardholder name", type
 *                           CREDIT_CARD_TYPE, ccnum "number"
 *                           CREDIT_CARD_NUMBER, cvv "verification number"
 *                           CONCEALED, expiry "expiry date" MONTH_YEAR,
 *                           validFrom "valid from" MONTH_YEAR, notesPlain N
 *   MEMBERSHIP              org_name "group", member_name "member name",
 *                           membership_no "member ID", pin "PIN" CONCEALED,
 *                           notesPlain N
 *   PASSPORT                type, issuing_country "issuing country",
 *                           number, fullname "full name", sex GENDER,
 *                           nationality, birthdate "date of birth" DATE,
 *                           issue_date "issued on" DATE, expiry_date
 *                           "expiry date" DATE, notesPlain N
 *   SOFTWARE_LICENSE        product_version "version", reg_code
 *                           "license key", reg_name "licensed to",
 *                           reg_email "registered email" EMAIL, notesPlain N
 *   OUTDOOR_LICENSE         name "full name", valid_from "valid from" DATE,
 *                           expires DATE, game "approved wildlife", country,
 *                           notesPlain N
 *   SECURE_NOTE             notesPlain N
 *   WIRELESS_ROUTER         name "base station name", password "base
 *                           station password" CONCEALED, server "server /
 *                           IP address", network_name "network name",
 *                           wireless_password "wireless network password"
 *                           CONCEALED, notesPlain N
 *   BANK_ACCOUNT            bankName "bank name", owner "name on account",
 *                           accountType "type", routingNo "routing number",
 *                           accountNo "account number", swift "SWIFT",
 *                           iban "IBAN", telephonePin "PIN" CONCEALED,
 *                           notesPlain N
 *   DRIVER_LICENSE          fullname "full name", address, birthdate "date
 *                           of birth" DATE, sex GENDER, number, class
 *                           "license class", state, country, expiry_date
 *                           "expiry date" MONTH_YEAR, notesPlain N
 *   IDENTITY                firstname "first name", lastname "last name",
 *                           birthdate "birth date" DATE, email EMAIL,
 *                           phone PHONE, company, notesPlain N
 *   REWARD_PROGRAM          company_name "company name", member_name
 *                           "member name", membership_no "member ID", pin
 *                           "PIN" CONCEALED, notesPlain N
 *   DOCUMENT                notesPlain N (created internally only)
 *   EMAIL_ACCOUNT           pop_username "username", pop_server "server",
 *                           pop_port "port number", pop_password "password"
 *                           CONCEALED, smtp_server "SMTP server",
 *                           notesPlain N
 *   SOCIAL_SECURITY_NUMBER  name, number CONCEALED, notesPlain N
 *   MEDICAL_RECORD          date DATE, location, healthcareprofessional
 *                           "healthcare professional", patient, reason
 *                           "reason for visit", notesPlain N
 *   SSH_KEY                 private_key "private key" SSHKEY, notesPlain N
 *   CUSTOM                  none (not creatable; its template is unknown)
 *
 * (U = purpose USERNAME, P = PASSWORD, N = NOTES with label "notesPlain".)
 */
#include "internal.h"

#include <string.h>

#include "core/err.h"
#include "core/strparse.h"
#include "model/item.h"

#define NOTES                                                                                      \
    {                                                                                              \
        "notesPlain", "notesPlain", "STRING", "NOTES"                                              \
    }
#define F(id, label, type)                                                                         \
    {                                                                                              \
        id, label, type, ""                                                                        \
    }

static const opc__field_template t_login[] = {
    {"username", "username", "STRING", "USERNAME"},
    {"password", "password", "CONCEALED", "PASSWORD"},
    NOTES,
};
static const opc__field_template t_password[] = {
    {"password", "password", "CONCEALED", "PASSWORD"},
    NOTES,
};
static const opc__field_template t_api_credential[] = {
    F("username", "username", "STRING"),  F("credential", "credential", "CONCEALED"),
    F("type", "type", "STRING"),          F("filename", "filename", "STRING"),
    F("validFrom", "valid from", "DATE"), F("expires", "expires", "DATE"),
    F("hostname", "hostname", "STRING"),  NOTES,
};
static const opc__field_template t_server[] = {
    F("url", "URL", "URL"),
    F("username", "username", "STRING"),
    F("password", "password", "CONCEALED"),
    NOTES,
};
static const opc__field_template t_database[] = {
    F("type", "type", "STRING"),
    F("hostname", "server", "STRING"),
    F("port", "port", "STRING"),
    F("database", "database", "STRING"),
    F("username", "username", "STRING"),
    F("password", "password", "CONCEALED"),
    F("sid", "SID", "STRING"),
    F("alias", "alias", "STRING"),
    F("options", "connection options", "STRING"),
    NOTES,
};
static const opc__field_template t_credit_card[] = {
    F("cardholder", "cardholder name", "STRING"),
    F("type", "type", "CREDIT_CARD_TYPE"),
    F("ccnum", "number", "CREDIT_CARD_NUMBER"),
    F("cvv", "verification number", "CONCEALED"),
    F("expiry", "expiry date", "MONTH_YEAR"),
    F("validFrom", "valid from", "MONTH_YEAR"),
    NOTES,
};
static const opc__field_template t_membership[] = {
    F("org_name", "group", "STRING"),
    F("member_name", "member name", "STRING"),
    F("membership_no", "member ID", "STRING"),
    F("pin", "PIN", "CONCEALED"),
    NOTES,
};
static const opc__field_template t_passport[] = {
    F("type", "type", "STRING"),
    F("issuing_country", "issuing country", "STRING"),
    F("number", "number", "STRING"),
    F("fullname", "full name", "STRING"),
    F("sex", "sex", "GENDER"),
    F("nationality", "nationality", "STRING"),
    F("birthdate", "date of birth", "DATE"),
    F("issue_date", "issued on", "DATE"),
    F("expiry_date", "expiry date", "DATE"),
    NOTES,
};
static const opc__field_template t_software_license[] = {
    F("product_version", "version", "STRING"),
    F("reg_code", "license key", "STRING"),
    F("reg_name", "licensed to", "STRING"),
    F("reg_email", "registered email", "EMAIL"),
    NOTES,
};
static const opc__field_template t_outdoor_license[] = {
    F("name", "full name", "STRING"),  F("valid_from", "valid from", "DATE"),
    F("expires", "expires", "DATE"),   F("game", "approved wildlife", "STRING"),
    F("country", "country", "STRING"), NOTES,
};
static const opc__field_template t_secure_note[] = {
    NOTES,
};
static const opc__field_template t_wireless_router[] = {
    F("name", "base station name", "STRING"),
    F("password", "base station password", "CONCEALED"),
    F("server", "server / IP address", "STRING"),
    F("network_name", "network name", "STRING"),
    F("wireless_password", "wireless network password", "CONCEALED"),
    NOTES,
};
static const opc__field_template t_bank_account[] = {
    F("bankName", "bank name", "STRING"),
    F("owner", "name on account", "STRING"),
    F("accountType", "type", "STRING"),
    F("routingNo", "routing number", "STRING"),
    F("accountNo", "account number", "STRING"),
    F("swift", "SWIFT", "STRING"),
    F("iban", "IBAN", "STRING"),
    F("telephonePin", "PIN", "CONCEALED"),
    NOTES,
};
static const opc__field_template t_driver_license[] = {
    F("fullname", "full name", "STRING"),
    F("address", "address", "STRING"),
    F("birthdate", "date of birth", "DATE"),
    F("sex", "sex", "GENDER"),
    F("number", "number", "STRING"),
    F("class", "license class", "STRING"),
    F("state", "state", "STRING"),
    F("country", "country", "STRING"),
    F("expiry_date", "expiry date", "MONTH_YEAR"),
    NOTES,
};
static const opc__field_template t_identity[] = {
    F("firstname", "first name", "STRING"),
    F("lastname", "last name", "STRING"),
    F("birthdate", "birth date", "DATE"),
    F("email", "email", "EMAIL"),
    F("phone", "phone", "PHONE"),
    F("company", "company", "STRING"),
    NOTES,
};
static const opc__field_template t_reward_program[] = {
    F("company_name", "company name", "STRING"),
    F("member_name", "member name", "STRING"),
    F("membership_no", "member ID", "STRING"),
    F("pin", "PIN", "CONCEALED"),
    NOTES,
};
static const opc__field_template t_document[] = {
    NOTES,
};
static const opc__field_template t_email_account[] = {
    F("pop_username", "username", "STRING"),   F("pop_server", "server", "STRING"),
    F("pop_port", "port number", "STRING"),    F("pop_password", "password", "CONCEALED"),
    F("smtp_server", "SMTP server", "STRING"), NOTES,
};
static const opc__field_template t_ssn[] = {
    F("name", "name", "STRING"),
    F("number", "number", "CONCEALED"),
    NOTES,
};
static const opc__field_template t_medical_record[] = {
    F("date", "date", "DATE"),
    F("location", "location", "STRING"),
    F("healthcareprofessional", "healthcare professional", "STRING"),
    F("patient", "patient", "STRING"),
    F("reason", "reason for visit", "STRING"),
    NOTES,
};
static const opc__field_template t_ssh_key[] = {
    F("private_key", "private key", "SSHKEY"),
    NOTES,
};

#define T(a) a, OPC_ARRAY_LEN(a)

static const struct {
    opc__category cat;
    const char *name;
    const opc__field_template *fields;
    size_t n;
} categories[] = {
    {OPC_CAT_LOGIN, "LOGIN", T(t_login)},
    {OPC_CAT_PASSWORD, "PASSWORD", T(t_password)},
    {OPC_CAT_API_CREDENTIAL, "API_CREDENTIAL", T(t_api_credential)},
    {OPC_CAT_SERVER, "SERVER", T(t_server)},
    {OPC_CAT_DATABASE, "DATABASE", T(t_database)},
    {OPC_CAT_CREDIT_CARD, "CREDIT_CARD", T(t_credit_card)},
    {OPC_CAT_MEMBERSHIP, "MEMBERSHIP", T(t_membership)},
    {OPC_CAT_PASSPORT, "PASSPORT", T(t_passport)},
    {OPC_CAT_SOFTWARE_LICENSE, "SOFTWARE_LICENSE", T(t_software_license)},
    {OPC_CAT_OUTDOOR_LICENSE, "OUTDOOR_LICENSE", T(t_outdoor_license)},
    {OPC_CAT_SECURE_NOTE, "SECURE_NOTE", T(t_secure_note)},
    {OPC_CAT_WIRELESS_ROUTER, "WIRELESS_ROUTER", T(t_wireless_router)},
    {OPC_CAT_BANK_ACCOUNT, "BANK_ACCOUNT", T(t_bank_account)},
    {OPC_CAT_DRIVER_LICENSE, "DRIVER_LICENSE", T(t_driver_license)},
    {OPC_CAT_IDENTITY, "IDENTITY", T(t_identity)},
    {OPC_CAT_REWARD_PROGRAM, "REWARD_PROGRAM", T(t_reward_program)},
    {OPC_CAT_DOCUMENT, "DOCUMENT", T(t_document)},
    {OPC_CAT_EMAIL_ACCOUNT, "EMAIL_ACCOUNT", T(t_email_account)},
    {OPC_CAT_SOCIAL_SECURITY_NUMBER, "SOCIAL_SECURITY_NUMBER", T(t_ssn)},
    {OPC_CAT_MEDICAL_RECORD, "MEDICAL_RECORD", T(t_medical_record)},
    {OPC_CAT_SSH_KEY, "SSH_KEY", T(t_ssh_key)},
    {OPC_CAT_CUSTOM, "CUSTOM", NULL, 0},
};

const char *opc__category_name(opc__category c)
{
    for (size_t i = 0; i < OPC_ARRAY_LEN(categories); i++) {
        if (categories[i].cat == c) {
            return categories[i].name;
        }
    }
    return NULL;
}

opc_err opc__category_parse(const char *s, opc__category *out, opc__ebuf *eb)
{
    if (s == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < OPC_ARRAY_LEN(categories); i++) {
        if (opc__strcasecmp(s, categories[i].name) == 0) {
            *out = categories[i].cat;
            return OPC_OK;
        }
    }
    return opc__fail(eb, OPC_ERR_PARSE, "Invalid item category");
}

bool opc__category_creatable(opc__category c)
{
    return opc__category_name(c) != NULL && c != OPC_CAT_CUSTOM && c != OPC_CAT_DOCUMENT;
}

const opc__field_template *opc__category_template(opc__category c, size_t *n)
{
    for (size_t i = 0; i < OPC_ARRAY_LEN(categories); i++) {
        if (categories[i].cat == c) {
            if (n != NULL) {
                *n = categories[i].n;
            }
            return categories[i].fields;
        }
    }
    if (n != NULL) {
        *n = 0;
    }
    return NULL;
}
