// JSON Schema -> GBNF. Each schema becomes a rule; objects list the required
// properties first then the optional ones (in `properties` order), so a key
// never repeats; integers with bounds get digit-range rules; numbers and
// strings are bounded in length where JSON allows any length (digits, white
// space) so a weak model cannot run on forever inside a number.
#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "grammar/schema_internal.h"

namespace qlm {

using ojson = nlohmann::ordered_json;

namespace grammar {

std::string gbnf_literal(std::string_view text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c == '"') out += "\\\"";
        else if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else out += char(c);
    }
    return out + "\"";
}

std::string gbnf_class_char(uint32_t cp) {
    char buf[16];
    if (cp < 0x80 && ((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')))
        return std::string(1, char(cp));
    if (cp < 0x100) std::snprintf(buf, sizeof buf, "\\x%02X", cp);
    else if (cp < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04X", cp);
    else std::snprintf(buf, sizeof buf, "\\U%08X", cp);
    return buf;
}

std::string json_char_literal(uint32_t cp) {
    std::string s;
    if (cp == '"') s = "\\\"";
    else if (cp == '\\') s = "\\\\";
    else if (cp == '\n') s = "\\n";
    else if (cp == '\r') s = "\\r";
    else if (cp == '\t') s = "\\t";
    else if (cp < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
        s = buf;
    } else if (cp < 0x80) s = std::string(1, char(cp));
    else {  // UTF-8
        if (cp < 0x800) s += char(0xC0 | (cp >> 6));
        else {
            if (cp < 0x10000) s += char(0xE0 | (cp >> 12));
            else s += char(0xF0 | (cp >> 18)), s += char(0x80 | ((cp >> 12) & 0x3F));
            s += char(0x80 | ((cp >> 6) & 0x3F));
        }
        s += char(0x80 | (cp & 0x3F));
    }
    return gbnf_literal(s);
}

}  // namespace grammar

namespace {

using grammar::gbnf_literal;

const char* const kPrimitives[][2] = {
    {"space", "| \" \" | \"\\n\" [ \\t]{0,20}"},
    {"json-char-plain", "[^\"\\\\\\x7F\\x00-\\x1F]"},
    {"json-char", "json-char-plain | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})"},
    {"string", "\"\\\"\" json-char* \"\\\"\" space"},
    {"integral-part", "[0] | [1-9] [0-9]{0,15}"},
    {"decimal-part", "[0-9]{1,16}"},
    {"number", "\"-\"? integral-part (\".\" decimal-part)? ([eE] [-+]? [0-9]{1,2})? space"},
    {"integer", "\"-\"? integral-part space"},
    {"boolean", "(\"true\" | \"false\") space"},
    {"null", "\"null\" space"},
    {"value", "object | array | string | number | boolean | null"},
    {"object", "\"{\" space ( string \":\" space value (\",\" space string \":\" space value)* )? \"}\" space"},
    {"array", "\"[\" space ( value (\",\" space value)* )? \"]\" space"},
    {"date", "[0-9]{4} \"-\" ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" ( \"0\" [1-9] | [1-2] [0-9] | \"3\" [0-1] )"},
    {"time", "([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{3} )? "
             "( \"Z\" | ( \"+\" | \"-\" ) ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )"},
    {"date-time", "date \"T\" time"},
    {"uuid", "[0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12}"},
};
// what each primitive needs
const std::map<std::string, std::vector<std::string>> kDeps = {
    {"json-char", {"json-char-plain"}},
    {"string", {"json-char", "space"}},
    {"number", {"integral-part", "decimal-part", "space"}},
    {"integer", {"integral-part", "space"}},
    {"boolean", {"space"}},
    {"null", {"space"}},
    {"value", {"object", "array", "string", "number", "boolean", "null"}},
    {"object", {"space", "string", "value"}},
    {"array", {"space", "value"}},
    {"date-time", {"date", "time"}},
};

const std::set<std::string> kAnnotations = {
    "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
    "writeOnly", "$defs", "definitions", "contentMediaType", "contentEncoding", "$anchor", "strict",
};

[[noreturn]] void unsupported(const std::string& kw, const std::string& where, const std::string& why = {}) {
    throw GrammarError(GrammarError::Kind::UnsupportedSchema,
                       "json schema: " + (where.empty() ? std::string("#") : where) + ": '" + kw + "' is not supported" +
                           (why.empty() ? "" : " (" + why + ")"),
                       kw);
}
[[noreturn]] void invalid(const std::string& where, const std::string& why) {
    throw GrammarError(GrammarError::Kind::InvalidSchema,
                       "json schema: " + (where.empty() ? std::string("#") : where) + ": " + why);
}

// Decimal strings without leading zeros in [a, b] (both of n digits).
std::string same_length_range(const std::string& a, const std::string& b) {
    const size_t n = a.size();
    if (n == 0) return "";
    auto digits = [](size_t k) { return k == 0 ? std::string() : " [0-9]{" + std::to_string(k) + "}"; };
    if (a == b) return gbnf_literal(a);
    if (a[0] == b[0]) return gbnf_literal(a.substr(0, 1)) + " (" + same_length_range(a.substr(1), b.substr(1)) + ")";
    const std::string rest_a = a.substr(1), rest_b = b.substr(1);
    const bool a_low = rest_a.find_first_not_of('0') == std::string::npos;
    const bool b_high = rest_b.find_first_not_of('9') == std::string::npos;
    std::vector<std::string> alts;
    char lo = a[0], hi = b[0];
    if (!a_low) {
        alts.push_back(gbnf_literal(a.substr(0, 1)) + " (" + same_length_range(rest_a, std::string(n - 1, '9')) + ")");
        ++lo;
    }
    if (!b_high) --hi;
    if (lo <= hi) alts.push_back("[" + std::string(1, lo) + "-" + std::string(1, hi) + "]" + digits(n - 1));
    if (!b_high)
        alts.push_back(gbnf_literal(b.substr(0, 1)) + " (" + same_length_range(std::string(n - 1, '0'), rest_b) + ")");
    std::string out;
    for (const auto& x : alts) out += (out.empty() ? "" : " | ") + x;
    return out;
}

constexpr int kMaxDigits = 18;

// Non-negative integers in [a, b] (b < 0: unbounded).
std::string uint_range(int64_t a, int64_t b) {
    std::vector<std::string> alts;
    const std::string sa = std::to_string(a);
    const size_t la = sa.size();
    const size_t lb = b < 0 ? size_t(kMaxDigits) : std::to_string(b).size();
    for (size_t len = la; len <= lb; ++len) {
        const std::string lo = len == la ? sa : (len == 1 ? "0" : "1" + std::string(len - 1, '0'));
        std::string hi = std::string(len, '9');
        if (b >= 0 && len == lb) hi = std::to_string(b);
        if (b < 0 && len > la) {  // every longer number
            alts.push_back("[1-9] [0-9]{" + std::to_string(len - 1) + "," + std::to_string(kMaxDigits - 1) + "}");
            break;
        }
        alts.push_back("(" + same_length_range(lo, hi) + ")");
    }
    std::string out;
    for (const auto& x : alts) out += (out.empty() ? "" : " | ") + x;
    return out;
}

class Converter {
public:
    Converter(const ojson& root, std::string prefix) : root_(root), prefix_(std::move(prefix)) {}

    std::string run() {
        const std::string root = prefix_ + "root";
        const std::string r = visit(root_, "root", "");
        if (r != root) rules_[root] = r;
        std::string out;
        for (const auto& [name, body] : rules_) out += name + " ::= " + body + "\n";
        return out;
    }

    std::string prim(const std::string& name) {
        if (rules_.count(name)) return name;
        for (const auto& p : kPrimitives)
            if (name == p[0]) rules_[name] = p[1];
        const auto d = kDeps.find(name);
        if (d != kDeps.end())
            for (const auto& x : d->second) prim(x);
        return name;
    }

private:
    std::string new_name(const std::string& hint) {
        std::string base = prefix_;
        for (char c : hint) base += std::isalnum(uint8_t(c)) ? char(c) : '-';
        if (base == prefix_) base += "r";
        std::string n = base;
        for (int i = 1; rules_.count(n) || reserved(n); ++i) n = base + "-" + std::to_string(i);
        rules_[n] = "";  // reserved
        return n;
    }
    static bool reserved(const std::string& n) {
        for (const auto& p : kPrimitives)
            if (n == p[0]) return true;
        return false;
    }
    std::string rule(const std::string& hint, const std::string& body) {
        const std::string n = new_name(hint);
        rules_[n] = body;
        return n;
    }

    const ojson& resolve(const std::string& ref, const std::string& where) {
        if (ref == "#") return root_;
        const ojson* cur = &root_;
        if (ref.rfind("#/", 0) != 0) unsupported("$ref", where, "only local references (#/...) are");
        size_t p = 2;
        while (p <= ref.size()) {
            size_t q = ref.find('/', p);
            if (q == std::string::npos) q = ref.size();
            std::string key = ref.substr(p, q - p);
            for (size_t i; (i = key.find("~1")) != std::string::npos;) key.replace(i, 2, "/");
            for (size_t i; (i = key.find("~0")) != std::string::npos;) key.replace(i, 2, "~");
            if (cur->is_object() && cur->contains(key)) cur = &(*cur)[key];
            else if (cur->is_array() && !key.empty() && key.find_first_not_of("0123456789") == std::string::npos &&
                     std::stoul(key) < cur->size())
                cur = &(*cur)[std::stoul(key)];
            else invalid(where, "$ref '" + ref + "' points nowhere");
            p = q + 1;
        }
        return *cur;
    }

    static std::string alts(const std::vector<std::string>& xs) {
        std::string out;
        for (const auto& x : xs) out += (out.empty() ? "" : " | ") + x;
        return out;
    }

    std::string literal_value(const ojson& v) { return gbnf_literal(v.dump()) + " space"; }

    // A rule for `schema`, named after `hint`.
    std::string visit(const ojson& schema, const std::string& hint, const std::string& where) {
        if (++depth_ > 200) invalid(where, "the schema nests too deeply");
        struct Guard {
            int& d;
            ~Guard() { --d; }
        } guard{depth_};
        if (schema.is_boolean()) {
            if (!schema.get<bool>()) unsupported("false", where, "a schema that matches nothing");
            return prim("value");
        }
        if (!schema.is_object()) invalid(where, "a schema must be an object or a boolean");
        static const std::set<std::string> known = {
            "type", "properties", "required", "additionalProperties", "enum", "const", "anyOf", "oneOf", "allOf",
            "items", "prefixItems", "minItems", "maxItems", "minLength", "maxLength", "pattern", "format",
            "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "$ref"};
        for (const auto& [k, v] : schema.items())
            if (!known.count(k) && !kAnnotations.count(k) && k.rfind("x-", 0) != 0) unsupported(k, where);
        prim("space");
        if (schema.contains("$ref")) {
            if (!schema["$ref"].is_string()) invalid(where, "$ref must be a string");
            const std::string ref = schema["$ref"].get<std::string>();
            for (const auto& [k, v] : schema.items())
                if (k != "$ref" && !kAnnotations.count(k)) unsupported(k, where, "beside $ref");
            const auto it = refs_.find(ref);
            if (it != refs_.end()) return it->second;
            const size_t slash = ref.find_last_of('/');
            const std::string name = new_name(slash == std::string::npos ? "ref" : ref.substr(slash + 1));
            refs_[ref] = name;
            const std::string r = visit(resolve(ref, where), name + "-body", ref);
            rules_[name] = r;
            return name;
        }
        const std::string h = hint;
        if (schema.contains("const")) return rule(h, literal_value(schema["const"]));
        if (schema.contains("enum")) {
            if (!schema["enum"].is_array() || schema["enum"].empty()) invalid(where + "/enum", "must be a non-empty list");
            std::vector<std::string> xs;
            for (const auto& v : schema["enum"]) xs.push_back("(" + gbnf_literal(v.dump()) + ")");
            return rule(h, "(" + alts(xs) + ") space");
        }
        for (const char* kw : {"anyOf", "oneOf"})
            if (schema.contains(kw)) {
                const ojson& list = schema[kw];
                if (!list.is_array() || list.empty()) invalid(where + "/" + kw, "must be a non-empty list");
                std::vector<std::string> xs;
                for (size_t i = 0; i < list.size(); ++i) {
                    const std::string w = where + "/" + kw + "/" + std::to_string(i);
                    const ojson b = with_siblings(schema, kw, list[i], w);
                    xs.push_back(visit(b, h + "-" + std::to_string(i), w));
                }
                return rule(h, alts(xs));
            }
        if (schema.contains("allOf")) return all_of(schema, h, where);
        std::vector<std::string> types;
        if (schema.contains("type")) {
            const ojson& t = schema["type"];
            if (t.is_string()) types.push_back(t.get<std::string>());
            else if (t.is_array())
                for (const auto& x : t) {
                    if (!x.is_string()) invalid(where + "/type", "must be a string or a list of strings");
                    types.push_back(x.get<std::string>());
                }
            else invalid(where + "/type", "must be a string or a list of strings");
            if (types.empty()) invalid(where + "/type", "is an empty list");
        } else {
            auto has = [&](std::initializer_list<const char*> ks) {
                for (const char* k : ks)
                    if (schema.contains(k)) return true;
                return false;
            };
            if (has({"properties", "required", "additionalProperties"})) types.push_back("object");
            if (has({"items", "prefixItems", "minItems", "maxItems"})) types.push_back("array");
            if (has({"minLength", "maxLength", "pattern", "format"})) types.push_back("string");
            if (has({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})) types.push_back("number");
            if (types.empty()) return prim("value");
        }
        std::vector<std::string> xs;
        for (const std::string& t : types) xs.push_back(typed(schema, t, types.size() > 1 ? h + "-" + t : h, where));
        if (xs.size() == 1) return xs[0];
        return rule(h, alts(xs));
    }

    // A branch of anyOf/oneOf/allOf with the keywords beside the combinator
    // added (the branch's own win): {"type": "object", "anyOf": [{...}]}.
    ojson with_siblings(const ojson& schema, const char* kw, const ojson& branch, const std::string& where) {
        bool siblings = false;
        for (const auto& [k, v] : schema.items())
            if (k != kw && !kAnnotations.count(k)) siblings = true;
        if (!siblings) return branch;
        ojson b = branch;
        if (b.is_object() && b.contains("$ref") && b["$ref"].is_string()) {
            ojson r = resolve(b["$ref"].get<std::string>(), where);
            for (const auto& [k, v] : b.items())
                if (k != "$ref") r[k] = v;
            b = r;
        }
        if (!b.is_object()) invalid(where, "a schema must be an object");
        for (const auto& [k, v] : schema.items())
            if (k != kw && !kAnnotations.count(k) && !b.contains(k)) b[k] = v;
        return b;
    }

    std::string all_of(const ojson& schema, const std::string& h, const std::string& where) {
        if (schema["allOf"].is_array() && schema["allOf"].size() == 1)
            return visit(with_siblings(schema, "allOf", schema["allOf"][0], where + "/allOf/0"), h, where);
        // objects only: properties and required merged
        ojson merged = {{"type", "object"}, {"properties", ojson::object()}, {"required", ojson::array()}};
        for (const auto& [k, v] : schema.items())
            if (k != "allOf" && !kAnnotations.count(k) && k != "type") unsupported(k, where, "beside allOf");
        const ojson& list = schema["allOf"];
        if (!list.is_array() || list.empty()) invalid(where + "/allOf", "must be a non-empty list");
        for (const auto& part0 : list) {
            const ojson* part = &part0;
            if (part->is_object() && part->contains("$ref") && (*part)["$ref"].is_string())
                part = &resolve((*part)["$ref"].get<std::string>(), where);
            if (!part->is_object()) invalid(where + "/allOf", "holds a schema that is not an object");
            for (const auto& [k, v] : part->items()) {
                if (k == "properties" && v.is_object())
                    for (const auto& [pk, pv] : v.items()) merged["properties"][pk] = pv;
                else if (k == "required" && v.is_array())
                    for (const auto& r : v) merged["required"].push_back(r);
                else if (k == "type" && v == "object") continue;
                else if (!kAnnotations.count(k)) unsupported("allOf", where, "only objects with properties merge; found '" + k + "'");
            }
        }
        return visit(merged, h, where);
    }

    std::string typed(const ojson& s, const std::string& t, const std::string& h, const std::string& where) {
        if (t == "object") return object(s, h, where);
        if (t == "array") return array(s, h, where);
        if (t == "string") return string(s, h, where);
        if (t == "integer") return integer(s, h, where);
        if (t == "number") return number(s, h, where);
        if (t == "boolean") return prim("boolean");
        if (t == "null") return prim("null");
        invalid(where + "/type", "'" + t + "' is not a JSON Schema type");
    }

    static int64_t count(const ojson& s, const char* key, const std::string& where, int64_t def) {
        if (!s.contains(key)) return def;
        const ojson& v = s[key];
        if (!v.is_number_integer() || v.get<int64_t>() < 0) invalid(where + "/" + key, "must be a non-negative integer");
        return v.get<int64_t>();
    }

    std::string repeat(const std::string& x, int64_t lo, int64_t hi) {  // hi < 0: unbounded
        if (lo > 100000 || hi > 100000) unsupported("maxItems", "", "counts above 100000 are");
        if (hi < 0) return "(" + x + "){" + std::to_string(lo) + ",}";
        return "(" + x + "){" + std::to_string(lo) + "," + std::to_string(hi) + "}";
    }

    std::string object(const ojson& s, const std::string& h, const std::string& where) {
        std::vector<std::pair<std::string, const ojson*>> props;
        static const ojson any_schema = ojson::object();
        if (s.contains("properties")) {
            if (!s["properties"].is_object()) invalid(where + "/properties", "must be an object");
            for (const auto& [k, v] : s["properties"].items()) props.push_back({k, &v});
        }
        std::set<std::string> required;
        if (s.contains("required")) {
            if (!s["required"].is_array()) invalid(where + "/required", "must be a list of names");
            for (const auto& r : s["required"]) {
                if (!r.is_string()) invalid(where + "/required", "must be a list of names");
                required.insert(r.get<std::string>());
            }
        }
        const ojson* additional = nullptr;
        if (s.contains("additionalProperties")) {
            const ojson& a = s["additionalProperties"];
            if (!(a.is_boolean() && !a.get<bool>())) additional = a.is_boolean() ? &any_schema : &a;
        } else if (!s.contains("properties")) {
            additional = &any_schema;  // {"type": "object"}: any object
        }
        for (const std::string& r : required) {
            bool found = false;
            for (const auto& p : props) found = found || p.first == r;
            if (!found) props.push_back({r, additional ? additional : &any_schema});
        }
        std::vector<std::string> req, opt;
        for (const auto& [k, v] : props) {
            const std::string vr = visit(*v, h + "-" + k, where + "/properties/" + k);
            const std::string kv = gbnf_literal("\"" + json_key(k) + "\"") + " space \":\" space " + vr;
            (required.count(k) ? req : opt).push_back(kv);
        }
        std::string add;
        if (additional) {
            std::set<std::string> known;
            for (const auto& p : props) known.insert(json_key(p.first));
            const std::string key = other_key(known, h + "-key");
            const std::string val = visit(*additional, h + "-additional", where + "/additionalProperties");
            add = rule(h + "-kv", key + " \":\" space " + val);
        }
        std::string body;
        const std::string tail_add = add.empty() ? "" : " (\",\" space " + add + ")*";
        if (!req.empty()) {
            body = req[0];
            for (size_t i = 1; i < req.size(); ++i) body += " \",\" space " + req[i];
            for (const auto& o : opt) body += " (\",\" space " + o + ")?";
            body += tail_add;
        } else if (!opt.empty() || !add.empty()) {
            // the first member present is an optional one (or an additional key): rest_i rules chain the others
            std::vector<std::string> rest(opt.size() + 1);
            rest[opt.size()] = add.empty() ? "" : rule(h + "-rest", tail_add.substr(1));
            for (size_t i = opt.size(); i-- > 0;) {
                std::string b = "(\",\" space " + opt[i] + ")?";
                if (!rest[i + 1].empty()) b += " " + rest[i + 1];
                rest[i] = rule(h + "-rest", b);
            }
            std::vector<std::string> firsts;
            for (size_t i = 0; i < opt.size(); ++i) firsts.push_back(opt[i] + (rest[i + 1].empty() ? "" : " " + rest[i + 1]));
            if (!add.empty()) firsts.push_back(add + " " + rest[opt.size()]);
            body = "(" + alts(firsts) + ")?";
        }
        return rule(h, "\"{\" space " + (body.empty() ? "" : body + " ") + "\"}\" space");
    }

    static std::string json_key(const std::string& k) {
        const std::string d = ojson(k).dump();
        return d.substr(1, d.size() - 2);
    }

    // A JSON string key (with its closing quote and space) that is none of `known`.
    std::string other_key(const std::set<std::string>& known, const std::string& h) {
        prim("string");
        if (known.empty()) return "string";
        for (const auto& k : known)
            for (char c : k)
                if (uint8_t(c) >= 0x80) return "string";  // byte-level trie below: ASCII keys only
        // a trie over the known keys: at each node, stop (if not a key), leave the trie, or go on
        struct T {
            std::map<char, int> next;
            bool key = false;
        };
        std::vector<T> trie(1);
        for (const auto& k : known) {
            int n = 0;
            for (char c : k) {
                auto it = trie[size_t(n)].next.find(c);
                if (it == trie[size_t(n)].next.end()) {
                    trie.push_back({});
                    it = trie[size_t(n)].next.emplace(c, int(trie.size() - 1)).first;
                }
                n = it->second;
            }
            trie[size_t(n)].key = true;
        }
        const std::string free = rule(h + "-free", "json-char* \"\\\"\" space");
        std::vector<std::string> names(trie.size());
        for (size_t n = 0; n < trie.size(); ++n) names[n] = new_name(h);
        for (size_t n = 0; n < trie.size(); ++n) {
            std::vector<std::string> xs;
            if (!trie[n].key) xs.push_back("\"\\\"\" space");
            std::string excl = "\"\\\\\\x00-\\x1F\\x7F";
            for (const auto& [c, child] : trie[n].next) {
                xs.push_back(gbnf_literal(std::string(1, c)) + " " + names[size_t(child)]);
                if (uint8_t(c) < 0x80) excl += grammar::gbnf_class_char(uint8_t(c));
            }
            xs.push_back("[^" + excl + "] " + free);
            xs.push_back("\"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) " + free);
            rules_[names[n]] = alts(xs);
        }
        return "\"\\\"\" " + names[0];
    }

    std::string array(const ojson& s, const std::string& h, const std::string& where) {
        const int64_t lo = count(s, "minItems", where, 0);
        const int64_t hi = s.contains("maxItems") ? count(s, "maxItems", where, -1) : -1;
        if (hi >= 0 && hi < lo) invalid(where, "maxItems is below minItems");
        if (s.contains("prefixItems") && s["prefixItems"].is_object() && !s.contains("items")) {
            ojson t = s;  // llama.cpp reads an object here as `items`
            t["items"] = t["prefixItems"];
            t.erase("prefixItems");
            return array(t, h, where);
        }
        if (s.contains("items") && s["items"].is_array() && !s.contains("prefixItems")) {
            ojson t = s;  // draft 2019 and before: a list of items is a tuple
            t["prefixItems"] = t["items"];
            t.erase("items");
            return array(t, h, where);
        }
        if (s.contains("prefixItems")) {
            const ojson& p = s["prefixItems"];
            if (!p.is_array()) invalid(where + "/prefixItems", "must be a list of schemas");
            // element k present only if the ones before are; the first minItems are required
            std::string rest;
            if (s.contains("items") && !(s["items"].is_boolean() && !s["items"].get<bool>())) {
                const std::string item = visit(s["items"], h + "-item", where + "/items");
                if (p.empty()) return items_rule(item, lo, hi, h);
                const int64_t more_lo = std::max<int64_t>(0, lo - int64_t(p.size()));
                const int64_t more_hi = hi < 0 ? -1 : std::max<int64_t>(0, hi - int64_t(p.size()));
                if (more_hi != 0) rest = repeat("\",\" space " + item, more_lo, more_hi);
            } else if (int64_t(p.size()) < lo) {
                unsupported("minItems", where, "more than prefixItems holds, with no items");
            }
            const size_t n = hi < 0 ? p.size() : std::min(p.size(), size_t(hi));
            for (size_t k = n; k-- > 0;) {
                std::string el = (k ? "\",\" space " : "") +
                                 visit(p[k], h + "-" + std::to_string(k), where + "/prefixItems/" + std::to_string(k));
                if (!rest.empty()) el += " " + rest;
                rest = int64_t(k) < lo ? el : "(" + el + ")?";
            }
            const std::string body = rest;
            return rule(h, "\"[\" space " + (body.empty() ? "" : body + " ") + "\"]\" space");
        }
        const std::string item = s.contains("items") ? visit(s["items"], h + "-item", where + "/items") : prim("value");
        return items_rule(item, lo, hi, h);
    }

    std::string items_rule(const std::string& item, int64_t lo, int64_t hi, const std::string& h) {
        if (hi == 0) return rule(h, "\"[\" space \"]\" space");
        const std::string more = repeat("\",\" space " + item, std::max<int64_t>(0, lo - 1), hi < 0 ? -1 : hi - 1);
        std::string body = item + " " + more;
        if (lo == 0) body = "(" + body + ")?";
        return rule(h, "\"[\" space " + body + " \"]\" space");
    }

    std::string string(const ojson& s, const std::string& h, const std::string& where) {
        prim("string");
        if (s.contains("format")) {
            if (!s["format"].is_string()) invalid(where + "/format", "must be a string");
            const std::string f = s["format"].get<std::string>();
            if (f != "date" && f != "time" && f != "date-time" && f != "uuid")
                unsupported("format", where, "format '" + f + "'; date, time, date-time and uuid are supported");
            if (s.contains("pattern") || s.contains("minLength") || s.contains("maxLength"))
                unsupported("format", where, "with pattern or length bounds");
            return rule(h, "\"\\\"\" " + prim(f) + " \"\\\"\" space");
        }
        if (s.contains("pattern")) {
            if (!s["pattern"].is_string()) invalid(where + "/pattern", "must be a string");
            if (s.contains("minLength") || s.contains("maxLength")) unsupported("pattern", where, "with length bounds");
            return rule(h, "\"\\\"\" " + grammar::pattern_to_gbnf(s["pattern"].get<std::string>()) + " \"\\\"\" space");
        }
        const int64_t lo = count(s, "minLength", where, 0);
        const int64_t hi = s.contains("maxLength") ? count(s, "maxLength", where, -1) : -1;
        if (lo == 0 && hi < 0) return "string";
        if (hi >= 0 && hi < lo) invalid(where, "maxLength is below minLength");
        if (lo > 100000 || hi > 100000) unsupported("maxLength", where, "lengths above 100000 are");
        return rule(h, "\"\\\"\" json-char{" + std::to_string(lo) + "," + (hi < 0 ? "" : std::to_string(hi)) +
                           "} \"\\\"\" space");
    }

    // The bounds as integers: lo/hi set when present (exclusive ones moved in).
    void int_bounds(const ojson& s, const std::string& where, std::optional<int64_t>& lo, std::optional<int64_t>& hi) {
        auto num = [&](const char* k) -> std::optional<double> {
            if (!s.contains(k)) return std::nullopt;
            if (!s[k].is_number()) invalid(where + "/" + k, "must be a number");
            const double v = s[k].get<double>();
            if (!(std::fabs(v) < 1e18)) unsupported(k, where, "bounds beyond 1e18 are");
            return v;
        };
        if (auto v = num("minimum")) lo = int64_t(std::ceil(*v));
        if (auto v = num("exclusiveMinimum")) lo = std::max(lo.value_or(INT64_MIN), int64_t(std::floor(*v)) + 1);
        if (auto v = num("maximum")) hi = int64_t(std::floor(*v));
        if (auto v = num("exclusiveMaximum")) hi = std::min(hi.value_or(INT64_MAX), int64_t(std::ceil(*v)) - 1);
    }

    std::string integer(const ojson& s, const std::string& h, const std::string& where) {
        std::optional<int64_t> lo, hi;
        int_bounds(s, where, lo, hi);
        if (!lo && !hi) return prim("integer");
        if (lo && hi && *hi < *lo) invalid(where, "the bounds leave no integer");
        std::vector<std::string> xs;
        // negative part: -x for x in [max(1, -hi), -lo]
        if (!lo || *lo < 0) {
            const int64_t a = hi ? std::max<int64_t>(1, -*hi) : 1;
            const int64_t b = lo ? -*lo : -1;
            if (b < 0 || a <= b) xs.push_back("\"-\" (" + uint_range(a, b) + ")");
        }
        if (!hi || *hi >= 0) {
            const int64_t a = lo ? std::max<int64_t>(0, *lo) : 0;
            xs.push_back("(" + uint_range(a, hi ? *hi : -1) + ")");
        }
        return rule(h, "(" + alts(xs) + ") space");
    }

    std::string number(const ojson& s, const std::string& h, const std::string& where) {
        for (const char* k : {"maximum", "exclusiveMinimum", "exclusiveMaximum"})
            if (s.contains(k)) unsupported(k, where, "for numbers that are not integers");
        if (s.contains("minimum")) {
            const ojson& m = s["minimum"];
            if (!m.is_number() || m.get<double>() != 0)
                unsupported("minimum", where, "for numbers that are not integers, only minimum 0 is");
            prim("number");
            return rule(h, "integral-part (\".\" decimal-part)? ([eE] [-+]? [0-9]{1,2})? space");
        }
        return prim("number");
    }

    const ojson& root_;
    std::string prefix_;
    std::map<std::string, std::string> rules_;
    std::map<std::string, std::string> refs_;
    int depth_ = 0;
};

}  // namespace

std::string json_schema_to_gbnf(const ojson& schema, const std::string& rule_prefix) {
    return Converter(schema, rule_prefix).run();
}

std::string json_value_gbnf() {
    return json_schema_to_gbnf(ojson::object());
}

std::string json_object_gbnf() { return json_schema_to_gbnf(ojson{{"type", "object"}}); }

}  // namespace qlm
