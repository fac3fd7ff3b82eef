// Recursive descent over jinja2's grammar. Nesting is bounded (kMaxNesting)
// so a hostile template cannot overflow the stack.
#include "template/parser.h"

#include "qlm/template.h"
#include "template/lexer.h"

namespace qlm::tmpl {
namespace {

constexpr int kMaxNesting = 200;

class Parser {
public:
    explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

    Body parse_template() {
        Body body = subparse({});
        if (cur().type != Tok::Eof) fail_here("unexpected end tag");
        return body;
    }

private:
    std::vector<Token> t_;
    size_t p_ = 0;
    int depth_ = 0;
    int loops_ = 0;

    struct Guard {
        Parser& p;
        explicit Guard(Parser& parser, const Token& at) : p(parser) {
            if (++p.depth_ > kMaxNesting) syntax_error(at.line, at.col, "template nested too deeply");
        }
        ~Guard() { --p.depth_; }
    };

    const Token& cur() const { return t_[p_]; }
    const Token& look(size_t n = 1) const { return t_[std::min(p_ + n, t_.size() - 1)]; }
    const Token& next() {
        const Token& t = t_[p_];
        if (p_ + 1 < t_.size()) ++p_;
        return t;
    }

    static std::string describe(const Token& t) {
        switch (t.type) {
            case Tok::Data: return "template data";
            case Tok::VarBegin: return "'{{'";
            case Tok::VarEnd: return "end of print statement '}}'";
            case Tok::BlockBegin: return "'{%'";
            case Tok::BlockEnd: return "end of statement block '%}'";
            case Tok::Name: return "'" + t.text + "'";
            case Tok::String: return "string";
            case Tok::Int: return "integer";
            case Tok::Float: return "float";
            case Tok::Op: return "'" + t.text + "'";
            case Tok::Eof: return "end of template";
        }
        return "token";
    }

    [[noreturn]] void fail_at(const Token& t, const std::string& msg) { syntax_error(t.line, t.col, msg); }
    [[noreturn]] void fail_here(const std::string& msg) { fail_at(cur(), msg + " (got " + describe(cur()) + ")"); }

    bool is_op(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
    bool is_name(const char* n) const { return cur().type == Tok::Name && cur().text == n; }
    bool skip_op(const char* op) {
        if (!is_op(op)) return false;
        next();
        return true;
    }
    bool skip_name(const char* n) {
        if (!is_name(n)) return false;
        next();
        return true;
    }
    void expect_op(const char* op) {
        if (!skip_op(op)) fail_here(cat("expected '", op, "'"));
    }
    std::string expect_name() {
        if (cur().type != Tok::Name) fail_here("expected a name");
        return next().text;
    }
    void expect_block_end() {
        if (cur().type != Tok::BlockEnd) fail_here("expected end of statement block '%}'");
        next();
    }

    ExprPtr node(ExprKind k, const Token& at) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->line = at.line;
        e->col = at.col;
        return e;
    }

    // ---- statements ----

    // Statements up to one of the end tags (the tag name is left current).
    Body subparse(std::initializer_list<const char*> ends) {
        Body body;
        for (;;) {
            const Token& t = cur();
            if (t.type == Tok::Eof) {
                if (ends.size()) {
                    std::string list;
                    for (const char* e : ends) list += std::string(list.empty() ? "" : " or ") + "'" + e + "'";
                    fail_at(t, "unexpected end of template, expected " + list);
                }
                return body;
            }
            if (t.type == Tok::Data) {
                auto s = std::make_unique<Stmt>();
                s->kind = StmtKind::Text;
                s->line = t.line, s->col = t.col;
                s->text = t.text;
                body.push_back(std::move(s));
                next();
            } else if (t.type == Tok::VarBegin) {
                next();
                auto s = std::make_unique<Stmt>();
                s->kind = StmtKind::Print;
                s->line = t.line, s->col = t.col;
                s->expr = parse_tuple();
                if (cur().type != Tok::VarEnd) fail_here("expected end of print statement '}}'");
                next();
                body.push_back(std::move(s));
            } else if (t.type == Tok::BlockBegin) {
                const Token& tag = look();
                if (tag.type == Tok::Name) {
                    for (const char* e : ends)
                        if (tag.text == e) {
                            next();  // '{%': the end tag's name is current
                            return body;
                        }
                    static const char* closers[] = {"endif", "endfor", "endset", "endmacro", "endcall", "endfilter",
                                                    "endgeneration", "endraw", "else", "elif"};
                    for (const char* c : closers)
                        if (tag.text == c) {
                            std::string list;
                            for (const char* e : ends) list += std::string(list.empty() ? "" : " or ") + "'" + e + "'";
                            fail_at(tag, "unexpected '" + tag.text + "'" + (list.empty() ? "" : ", expected " + list));
                        }
                }
                next();
                body.push_back(statement());
            } else {
                fail_here("unexpected token");
            }
        }
    }

    // After the end tag name: skip it and the '%}'.
    void end_tag() {
        next();
        expect_block_end();
    }

    StmtPtr stmt(StmtKind k, const Token& at) {
        auto s = std::make_unique<Stmt>();
        s->kind = k;
        s->line = at.line;
        s->col = at.col;
        return s;
    }

    StmtPtr statement() {
        const Token& t = cur();
        Guard g(*this, t);
        if (t.type != Tok::Name) fail_here("tag name expected");
        const std::string name = t.text;
        next();
        if (name == "if") return parse_if(t);
        if (name == "for") return parse_for(t);
        if (name == "set") return parse_set(t);
        if (name == "macro") return parse_macro(t);
        if (name == "call") return parse_call_block(t);
        if (name == "filter") return parse_filter_block(t);
        if (name == "break" || name == "continue") {
            if (loops_ == 0) fail_at(t, "'" + name + "' outside a for loop");
            expect_block_end();
            return stmt(name == "break" ? StmtKind::Break : StmtKind::Continue, t);
        }
        if (name == "generation") {
            auto s = stmt(StmtKind::Scope, t);
            expect_block_end();
            s->body = subparse({"endgeneration"});
            end_tag();
            return s;
        }
        if (name == "print") {
            auto s = stmt(StmtKind::Print, t);
            s->expr = parse_tuple();
            expect_block_end();
            return s;
        }
        static const char* unsupported[] = {"extends", "block", "include", "import", "from", "with", "autoescape", "do"};
        for (const char* u : unsupported)
            if (name == u) fail_at(t, "tag '" + name + "' is not supported");
        fail_at(t, "encountered unknown tag '" + name + "'");
    }

    StmtPtr parse_if(const Token& t) {
        auto s = stmt(StmtKind::If, t);
        for (;;) {
            ExprPtr cond = parse_tuple(false);
            expect_block_end();
            Body body = subparse({"elif", "else", "endif"});
            s->branches.emplace_back(std::move(cond), std::move(body));
            const std::string tag = next().text;
            if (tag == "elif") continue;
            if (tag == "else") {
                expect_block_end();
                s->branches.emplace_back(nullptr, subparse({"endif"}));
                end_tag();
            } else {
                expect_block_end();
            }
            return s;
        }
    }

    Target parse_target(bool allow_tuple, bool with_namespace) {
        const Token& t = cur();
        if (with_namespace && t.type == Tok::Name && look().type == Tok::Op && look().text == ".") {
            Target tg;
            tg.name = next().text;
            next();
            tg.attr = expect_name();
            return tg;
        }
        Target tg;
        std::vector<Target> items;
        bool tuple = false;
        for (;;) {
            if (!items.empty() && !skip_op(",")) break;
            if (is_op("(")) {
                next();
                Target inner = parse_target(true, false);
                expect_op(")");
                if (!inner.tuple) fail_at(t, "can't assign to a parenthesized name");
                items.push_back(std::move(inner));
            } else {
                if (cur().type != Tok::Name) fail_here("expected an assignment target");
                Target n;
                n.name = next().text;
                if (n.name == "true" || n.name == "false" || n.name == "none" || n.name == "True" ||
                    n.name == "False" || n.name == "None")
                    fail_at(t, "can't assign to '" + n.name + "'");
                items.push_back(std::move(n));
            }
            if (!allow_tuple || !is_op(",")) break;
            tuple = true;
        }
        if (!tuple) return std::move(items[0]);
        tg.items = std::move(items);
        tg.tuple = true;
        return tg;
    }

    StmtPtr parse_for(const Token& t) {
        auto s = stmt(StmtKind::For, t);
        s->target = parse_target(true, false);
        if (!skip_name("in")) fail_here("expected 'in'");
        s->expr = parse_tuple(false, {"recursive"});
        if (skip_name("if")) s->cond = parse_expression();
        if (is_name("recursive")) fail_here("recursive loops are not supported");
        expect_block_end();
        ++loops_;
        s->body = subparse({"endfor", "else"});
        --loops_;
        if (next().text == "else") {
            expect_block_end();
            s->else_body = subparse({"endfor"});
            end_tag();
        } else {
            expect_block_end();
        }
        return s;
    }

    StmtPtr parse_set(const Token& t) {
        Target target = parse_target(true, true);
        if (skip_op("=")) {
            auto s = stmt(StmtKind::Set, t);
            s->target = std::move(target);
            s->expr = parse_tuple();
            expect_block_end();
            return s;
        }
        auto s = stmt(StmtKind::SetBlock, t);
        s->target = std::move(target);
        if (is_op("|")) s->expr = parse_filter(nullptr, false);
        expect_block_end();
        s->body = subparse({"endset"});
        end_tag();
        return s;
    }

    std::vector<Param> parse_signature() {
        std::vector<Param> params;
        expect_op("(");
        while (!is_op(")")) {
            if (!params.empty()) expect_op(",");
            if (is_op(")")) break;
            Param p;
            const Token& at = cur();
            p.name = expect_name();
            if (skip_op("=")) p.default_value = parse_expression();
            else if (!params.empty() && params.back().default_value)
                fail_at(at, "non-default argument follows default argument");
            params.push_back(std::move(p));
        }
        next();
        return params;
    }

    StmtPtr parse_macro(const Token& t) {
        auto s = stmt(StmtKind::Macro, t);
        s->text = expect_name();
        s->params = parse_signature();
        expect_block_end();
        const int loops = loops_;
        loops_ = 0;
        s->body = subparse({"endmacro"});
        loops_ = loops;
        end_tag();
        return s;
    }

    StmtPtr parse_call_block(const Token& t) {
        auto s = stmt(StmtKind::CallBlock, t);
        if (is_op("(")) s->params = parse_signature();
        s->expr = parse_expression();
        if (s->expr->kind != ExprKind::Call) fail_at(t, "expected a call");
        expect_block_end();
        const int loops = loops_;
        loops_ = 0;
        s->body = subparse({"endcall"});
        loops_ = loops;
        end_tag();
        return s;
    }

    StmtPtr parse_filter_block(const Token& t) {
        auto s = stmt(StmtKind::FilterBlock, t);
        s->expr = parse_filter(nullptr, true);
        expect_block_end();
        s->body = subparse({"endfilter"});
        end_tag();
        return s;
    }

    // ---- expressions ----

    bool tuple_end(std::initializer_list<const char*> extra) const {
        const Token& t = cur();
        if (t.type == Tok::VarEnd || t.type == Tok::BlockEnd || t.type == Tok::Eof) return true;
        if (t.type == Tok::Op && t.text == ")") return true;
        if (t.type == Tok::Name)
            for (const char* e : extra)
                if (t.text == e) return true;
        return false;
    }

    ExprPtr parse_tuple(bool with_condexpr = true, std::initializer_list<const char*> extra = {},
                        bool explicit_parens = false) {
        const Token& start = cur();
        std::vector<ExprPtr> items;
        bool tuple = false;
        for (;;) {
            if (!items.empty()) expect_op(",");
            if (tuple_end(extra)) break;
            items.push_back(with_condexpr ? parse_expression() : parse_or());
            if (is_op(",")) tuple = true;
            else break;
        }
        if (!tuple) {
            if (!items.empty()) return std::move(items[0]);
            if (!explicit_parens) fail_here("expected an expression");
        }
        auto e = node(ExprKind::Tuple, start);
        e->args = std::move(items);
        return e;
    }

    ExprPtr parse_expression() {
        Guard g(*this, cur());
        ExprPtr expr = parse_or();
        while (is_name("if")) {
            const Token& t = next();
            auto c = node(ExprKind::CondExpr, t);
            c->args.push_back(parse_or());
            c->args.push_back(std::move(expr));
            c->args.push_back(skip_name("else") ? parse_expression() : nullptr);
            expr = std::move(c);
        }
        return expr;
    }

    ExprPtr binary(ExprKind k, const Token& at, ExprPtr l, ExprPtr r, std::string op = {}) {
        auto e = node(k, at);
        e->name = std::move(op);
        e->args.push_back(std::move(l));
        e->args.push_back(std::move(r));
        return e;
    }

    ExprPtr parse_or() {
        ExprPtr l = parse_and();
        while (is_name("or")) {
            const Token& t = next();
            l = binary(ExprKind::Or, t, std::move(l), parse_and());
        }
        return l;
    }

    ExprPtr parse_and() {
        ExprPtr l = parse_not();
        while (is_name("and")) {
            const Token& t = next();
            l = binary(ExprKind::And, t, std::move(l), parse_not());
        }
        return l;
    }

    ExprPtr parse_not() {
        if (is_name("not")) {
            const Token& t = next();
            Guard g(*this, t);
            auto e = node(ExprKind::Not, t);
            e->args.push_back(parse_not());
            return e;
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        const Token& start = cur();
        ExprPtr first = parse_math1();
        ExprPtr cmp;
        for (;;) {
            std::string op;
            const Token& t = cur();
            if (t.type == Tok::Op && (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" ||
                                      t.text == ">" || t.text == ">=")) {
                op = t.text;
                next();
            } else if (is_name("in")) {
                op = "in";
                next();
            } else if (is_name("not") && look().type == Tok::Name && look().text == "in") {
                op = "notin";
                next();
                next();
            } else {
                break;
            }
            if (!cmp) {
                cmp = node(ExprKind::Compare, start);
                cmp->args.push_back(std::move(first));
            }
            cmp->ops.push_back(op);
            cmp->args.push_back(parse_math1());
        }
        return cmp ? std::move(cmp) : std::move(first);
    }

    ExprPtr parse_math1() {
        ExprPtr l = parse_concat();
        while (is_op("+") || is_op("-")) {
            const Token& t = next();
            l = binary(ExprKind::Binary, t, std::move(l), parse_concat(), t.text);
        }
        return l;
    }

    ExprPtr parse_concat() {
        ExprPtr l = parse_math2();
        while (is_op("~")) {
            const Token& t = next();
            l = binary(ExprKind::Binary, t, std::move(l), parse_math2(), "~");
        }
        return l;
    }

    ExprPtr parse_math2() {
        ExprPtr l = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const Token& t = next();
            l = binary(ExprKind::Binary, t, std::move(l), parse_pow(), t.text);
        }
        return l;
    }

    ExprPtr parse_pow() {
        ExprPtr l = parse_unary(true);
        while (is_op("**")) {
            const Token& t = next();
            l = binary(ExprKind::Binary, t, std::move(l), parse_unary(true), "**");
        }
        return l;
    }

    ExprPtr parse_unary(bool with_filter) {
        const Token& t = cur();
        Guard g(*this, t);
        ExprPtr e;
        if (is_op("-") || is_op("+")) {
            next();
            e = node(t.text == "-" ? ExprKind::Neg : ExprKind::Pos, t);
            e->args.push_back(parse_unary(false));
        } else {
            e = parse_primary();
        }
        e = parse_postfix(std::move(e));
        if (with_filter) e = parse_filter_expr(std::move(e));
        return e;
    }

    ExprPtr parse_primary() {
        const Token& t = cur();
        Guard g(*this, t);
        if (t.type == Tok::Name) {
            next();
            auto e = node(ExprKind::Const, t);
            if (t.text == "true" || t.text == "True") e->value = Value::boolean(true);
            else if (t.text == "false" || t.text == "False") e->value = Value::boolean(false);
            else if (t.text == "none" || t.text == "None") e->value = Value::none();
            else {
                e->kind = ExprKind::Name;
                e->name = t.text;
            }
            return e;
        }
        if (t.type == Tok::String) {
            std::string s;
            while (cur().type == Tok::String) s += next().text;  // adjacent literals concatenate
            auto e = node(ExprKind::Const, t);
            e->value = Value::string(std::move(s));
            return e;
        }
        if (t.type == Tok::Int || t.type == Tok::Float) {
            next();
            auto e = node(ExprKind::Const, t);
            e->value = t.type == Tok::Int ? Value::integer(t.ival) : Value::number(t.fval);
            return e;
        }
        if (is_op("(")) {
            next();
            ExprPtr e = parse_tuple(true, {}, true);
            expect_op(")");
            return e;
        }
        if (is_op("[")) {
            next();
            auto e = node(ExprKind::List, t);
            while (!is_op("]")) {
                if (!e->args.empty()) expect_op(",");
                if (is_op("]")) break;
                e->args.push_back(parse_expression());
            }
            next();
            return e;
        }
        if (is_op("{")) {
            next();
            auto e = node(ExprKind::Dict, t);
            while (!is_op("}")) {
                if (!e->args.empty()) expect_op(",");
                if (is_op("}")) break;
                e->args.push_back(parse_expression());
                expect_op(":");
                e->args.push_back(parse_expression());
            }
            next();
            return e;
        }
        fail_here("unexpected token in an expression");
    }

    ExprPtr parse_postfix(ExprPtr e) {
        for (;;) {
            if (is_op(".") || is_op("[")) e = parse_subscript(std::move(e));
            else if (is_op("(")) e = parse_call(std::move(e));
            else return e;
        }
    }

    ExprPtr parse_filter_expr(ExprPtr e) {
        for (;;) {
            if (is_op("|")) e = parse_filter(std::move(e), false);
            else if (is_name("is")) e = parse_test(std::move(e));
            else if (is_op("(")) e = parse_call(std::move(e));
            else return e;
        }
    }

    ExprPtr parse_subscript(ExprPtr e) {
        const Token& t = next();
        Guard g(*this, t);
        if (t.text == ".") {
            const Token& a = cur();
            if (a.type == Tok::Name) {
                next();
                auto n = node(ExprKind::GetAttr, t);
                n->line = e->line, n->col = e->col;
                n->name = a.text;
                n->args.push_back(std::move(e));
                return n;
            }
            if (a.type == Tok::Int) {
                next();
                auto n = node(ExprKind::GetItem, t);
                n->line = e->line, n->col = e->col;
                n->args.push_back(std::move(e));
                auto c = node(ExprKind::Const, a);
                c->value = Value::integer(a.ival);
                n->args.push_back(std::move(c));
                return n;
            }
            fail_here("expected an attribute name");
        }
        std::vector<ExprPtr> idx;
        while (!is_op("]")) {
            if (!idx.empty()) expect_op(",");
            if (is_op("]")) break;
            idx.push_back(parse_subscribed());
        }
        next();
        if (idx.empty()) fail_at(t, "expected a subscript");
        auto n = node(ExprKind::GetItem, t);
        n->line = e->line, n->col = e->col;
        n->args.push_back(std::move(e));
        if (idx.size() == 1) {
            n->args.push_back(std::move(idx[0]));
        } else {
            auto tup = node(ExprKind::Tuple, t);
            tup->args = std::move(idx);
            n->args.push_back(std::move(tup));
        }
        return n;
    }

    ExprPtr parse_subscribed() {
        const Token& t = cur();
        ExprPtr start;
        if (!is_op(":")) {
            start = parse_expression();
            if (!is_op(":")) return start;
        }
        next();
        auto s = node(ExprKind::Slice, t);
        s->args.push_back(std::move(start));
        s->args.push_back(is_op("]") || is_op(",") || is_op(":") ? nullptr : parse_expression());
        if (skip_op(":")) s->args.push_back(is_op("]") || is_op(",") ? nullptr : parse_expression());
        else s->args.push_back(nullptr);
        return s;
    }

    CallArgs parse_call_args() {
        CallArgs c;
        expect_op("(");
        bool first = true;
        while (!is_op(")")) {
            if (!first) expect_op(",");
            first = false;
            if (is_op(")")) break;
            if (skip_op("*")) {
                c.star = parse_expression();
            } else if (skip_op("**")) {
                c.starstar = parse_expression();
            } else if (cur().type == Tok::Name && look().type == Tok::Op && look().text == "=") {
                std::string key = next().text;
                next();
                c.kw.emplace_back(std::move(key), parse_expression());
            } else {
                if (!c.kw.empty() || c.star || c.starstar) fail_here("positional argument follows keyword argument");
                c.pos.push_back(parse_expression());
            }
        }
        next();
        return c;
    }

    ExprPtr parse_call(ExprPtr e) {
        const Token& t = cur();
        Guard g(*this, t);
        auto n = node(ExprKind::Call, t);
        n->line = e->line, n->col = e->col;
        n->args.push_back(std::move(e));
        n->call = parse_call_args();
        return n;
    }

    ExprPtr parse_filter(ExprPtr e, bool start_inline) {
        while (is_op("|") || start_inline) {
            if (!start_inline) next();
            start_inline = false;
            const Token& t = cur();
            Guard g(*this, t);
            std::string name = expect_name();
            while (is_op(".")) {
                next();
                name += "." + expect_name();
            }
            auto n = node(ExprKind::Filter, t);
            n->name = std::move(name);
            n->args.push_back(std::move(e));
            if (is_op("(")) n->call = parse_call_args();
            e = std::move(n);
        }
        return e;
    }

    ExprPtr parse_test(ExprPtr e) {
        const Token& t = next();  // 'is'
        Guard g(*this, t);
        auto n = node(ExprKind::Test, t);
        n->negated = skip_name("not");
        n->name = expect_name();
        while (is_op(".")) {
            next();
            n->name += "." + expect_name();
        }
        n->args.push_back(std::move(e));
        const Token& a = cur();
        if (is_op("(")) {
            n->call = parse_call_args();
        } else if ((a.type == Tok::Name || a.type == Tok::String || a.type == Tok::Int || a.type == Tok::Float ||
                    (a.type == Tok::Op && (a.text == "[" || a.text == "{"))) &&
                   !(a.type == Tok::Name && (a.text == "else" || a.text == "or" || a.text == "and"))) {
            if (a.type == Tok::Name && a.text == "is") fail_here("you cannot chain multiple tests with is");
            n->call.pos.push_back(parse_postfix(parse_primary()));
        }
        return n;
    }
};

}  // namespace

std::shared_ptr<Program> parse_program(std::string source) {
    auto prog = std::make_shared<Program>();
    prog->source = std::move(source);
    Parser p(lex(prog->source));
    prog->body = p.parse_template();
    return prog;
}

}  // namespace qlm::tmpl
