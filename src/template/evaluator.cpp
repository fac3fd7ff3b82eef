// Statement execution and expression evaluation.
#include "template/evaluator.h"

#include <algorithm>

namespace qlm::tmpl {

namespace {
thread_local size_t g_string_limit = size_t(16) << 20;
thread_local uint64_t g_item_budget = 1000000;
thread_local std::vector<std::weak_ptr<DictObj>>* g_namespaces = nullptr;
}  // namespace

void register_namespace(const Value& ns) {
    if (g_namespaces) g_namespaces->push_back(ns.dict);
}

void check_size(size_t bytes) {
    if (bytes > g_string_limit) throw Failure(cat("output exceeds the limit of ", g_string_limit, " bytes"));
}

void check_items(size_t n) {
    if (n > g_item_budget) throw Failure("iteration limit exceeded");
    g_item_budget -= n;
}

std::vector<Value> bind(Args& args, const char* what, std::initializer_list<const char*> names, size_t required) {
    std::vector<Value> slots(names.size());
    std::vector<bool> given(names.size());
    if (args.pos.size() > names.size())
        throw Failure(cat(what, "() takes at most ", names.size(), " arguments (", args.pos.size(), " given)"));
    for (size_t k = 0; k < args.pos.size(); ++k) slots[k] = args.pos[k], given[k] = true;
    for (auto& [key, v] : args.kw) {
        size_t k = 0;
        for (const char* n : names) {
            if (key == n) break;
            ++k;
        }
        if (k == names.size()) throw Failure(cat(what, "() got an unexpected keyword argument '", key, "'"));
        if (k < args.pos.size()) throw Failure(cat(what, "() got multiple values for argument '", key, "'"));
        slots[k] = v;
        given[k] = true;
    }
    for (size_t k = 0; k < required; ++k)
        if (!given[k])
            throw Failure(cat(what, "() missing required argument '", names.begin()[k], "'"));
    return slots;
}

void undefined_error(const Value& u) {
    if (u.unsafe) throw Failure(u.s);
    throw Failure(u.s.empty() ? std::string("value is undefined") : u.s);
}

struct DepthGuard {
    Evaluator& ev;
    explicit DepthGuard(Evaluator& e) : ev(e) {
        if (++ev.depth_ > ev.opt_.max_depth) {
            --ev.depth_;
            throw Failure("maximum recursion depth exceeded");
        }
    }
    ~DepthGuard() { --ev.depth_; }
};

Evaluator::Evaluator(const Program& prog, const TemplateOptions& opt, std::shared_ptr<Scope> globals)
    : prog_(prog),
      opt_(opt),
      globals_(std::move(globals)),
      saved_namespaces_(g_namespaces),
      saved_limit_(g_string_limit),
      saved_budget_(g_item_budget) {
    g_string_limit = opt.max_output_bytes;
    g_item_budget = opt.max_iterations;
    g_namespaces = &namespaces_;
}

Evaluator::~Evaluator() {
    // Break namespace cycles: move every namespace's contents out first (so
    // no chain of namespaces is destroyed recursively), then drop them.
    std::vector<std::pair<Value, Value>> graveyard;
    for (auto& weak : namespaces_)
        if (auto ns = weak.lock()) {
            for (auto& kv : ns->items) graveyard.push_back(std::move(kv));
            ns->items.clear();
        }
    graveyard.clear();
    closures_.clear();
    g_namespaces = saved_namespaces_;
    g_string_limit = saved_limit_;
    g_item_budget = saved_budget_;
}

std::string Evaluator::run() {
    std::string out;
    auto top = std::make_shared<Scope>();
    top->parent = globals_;
    exec(prog_.body, top, out);
    return out;
}

void Evaluator::append(std::string& out, std::string_view s) {
    check_size(out.size() + s.size());
    out += s;
}

// ---- statements ----

Evaluator::Flow Evaluator::exec(const Body& body, const std::shared_ptr<Scope>& scope, std::string& out) {
    for (const auto& s : body) {
        const Flow f = exec_stmt(*s, scope, out);
        if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
}

Evaluator::Flow Evaluator::exec_stmt(const Stmt& s, const std::shared_ptr<Scope>& scope, std::string& out) {
    DepthGuard g(*this);
    try {
        switch (s.kind) {
            case StmtKind::Text: append(out, s.text); break;
            case StmtKind::Print: {
                const Value v = eval(*s.expr, scope);
                if (v.kind == Value::Kind::String) append(out, v.s);
                else append(out, to_str(v));
                break;
            }
            case StmtKind::If:
                for (const auto& [cond, body] : s.branches)
                    if (!cond || eval(*cond, scope).truthy()) return exec(body, scope, out);
                break;
            case StmtKind::For: exec_for(s, scope, out); break;
            case StmtKind::Set: assign(s.target, eval(*s.expr, scope), scope); break;
            case StmtKind::SetBlock: {
                std::string body;
                exec(s.body, scope, body);
                Value v = Value::string(std::move(body));
                if (s.expr) v = eval_filter_chain(*s.expr, scope, v);
                assign(s.target, std::move(v), scope);
                break;
            }
            case StmtKind::Macro: scope->vars[s.text] = make_macro(s.text, s.params, s.body, scope); break;
            case StmtKind::CallBlock: {
                const Expr& call = *s.expr;
                Value fn = eval(*call.args[0], scope);
                Args args = eval_args(call.call, scope);
                args.kw.emplace_back("caller", make_macro("caller", s.params, s.body, scope));
                const Value v = this->call(fn, args);
                append(out, to_str(v));
                break;
            }
            case StmtKind::FilterBlock: {
                std::string body;
                exec(s.body, scope, body);
                append(out, to_str(eval_filter_chain(*s.expr, scope, Value::string(std::move(body)))));
                break;
            }
            case StmtKind::Break: return Flow::Break;
            case StmtKind::Continue: return Flow::Continue;
            case StmtKind::Scope: return exec(s.body, scope, out);
        }
    } catch (const Failure& f) {
        throw TemplateError(f.raised ? std::string(f.what()) : cat("line ", s.line, ", column ", s.col, ": ", f.what()),
                            s.line, s.col, f.raised);
    }
    return Flow::Normal;
}

void Evaluator::exec_for(const Stmt& s, const std::shared_ptr<Scope>& scope, std::string& out) {
    const Value seq = eval(*s.expr, scope);
    std::vector<Value> items = iterate(seq);
    if (s.cond) {  // the loop filter sees the target but no `loop`
        std::vector<Value> kept;
        for (auto& item : items) {
            check_items(1);
            auto fs = std::make_shared<Scope>();
            fs->parent = scope;
            assign(s.target, item, fs);
            if (eval(*s.cond, fs).truthy()) kept.push_back(std::move(item));
        }
        items = std::move(kept);
    }
    if (items.empty()) {
        auto es = std::make_shared<Scope>();
        es->parent = scope;
        exec(s.else_body, es, out);
        return;
    }
    auto shared = std::make_shared<const std::vector<Value>>(std::move(items));
    const int depth = 1;  // jinja2 counts depth in recursive loops only
    for (size_t k = 0; k < shared->size(); ++k) {
        check_items(1);
        auto it = std::make_shared<Scope>();  // a fresh scope per iteration, as jinja2
        it->parent = scope;
        Value loop;
        loop.kind = Value::Kind::Loop;
        loop.loop = std::make_shared<LoopObj>();
        loop.loop->items = shared;
        loop.loop->index0 = k;
        loop.loop->depth = depth;
        it->vars["loop"] = loop;
        assign(s.target, (*shared)[k], it);
        if (exec(s.body, it, out) == Flow::Break) break;
    }
}

void Evaluator::assign(const Target& t, Value v, const std::shared_ptr<Scope>& scope) {
    if (t.tuple) {
        std::vector<Value> items = iterate(v);
        if (items.size() != t.items.size())
            throw Failure(cat(items.size() < t.items.size() ? "not enough" : "too many", " values to unpack (expected ",
                              t.items.size(), ", got ", items.size(), ")"));
        for (size_t k = 0; k < items.size(); ++k) assign(t.items[k], std::move(items[k]), scope);
        return;
    }
    if (!t.attr.empty()) {
        const Value* ns = scope->find(t.name);
        if (!ns || ns->kind != Value::Kind::Namespace) throw Failure("cannot assign attribute on non-namespace object");
        ns->dict->set(Value::string(t.attr), std::move(v));
        return;
    }
    scope->vars[t.name] = std::move(v);
}

Value Evaluator::make_macro(const std::string& name, const std::vector<Param>& params, const Body& body,
                            std::shared_ptr<Scope> closure) {
    Value m = Value::function(name, nullptr);
    m.fn->is_macro = true;
    const std::vector<Param>* ps = &params;
    const Body* b = &body;
    Scope* outer = closure.get();
    closures_.push_back(std::move(closure));
    m.fn->call = [this, ps, b, outer, name](Args& args) -> Value {
        auto sc = std::make_shared<Scope>();
        sc->parent = std::shared_ptr<Scope>(std::shared_ptr<Scope>{}, outer);  // non-owning: closures_ keeps it
        std::vector<Value> varargs;
        for (size_t k = 0; k < args.pos.size(); ++k) {
            if (k < ps->size()) sc->vars[(*ps)[k].name] = args.pos[k];
            else varargs.push_back(args.pos[k]);
        }
        Value kwargs = Value::make_dict();
        for (auto& [key, v] : args.kw) {
            bool found = key == "caller";
            for (size_t k = 0; k < ps->size() && !found; ++k)
                if ((*ps)[k].name == key) {
                    if (k < args.pos.size()) throw Failure(cat("macro '", name, "' got multiple values for argument '", key, "'"));
                    found = true;
                }
            if (found) sc->vars[key] = v;
            else kwargs.dict->set(Value::string(key), v);
        }
        for (const Param& p : *ps)
            if (!sc->vars.count(p.name))
                sc->vars[p.name] = p.default_value ? eval(*p.default_value, sc)
                                                   : Value::undefined(cat("'", p.name, "' is undefined"));
        sc->vars["varargs"] = Value::make_list(std::move(varargs), true);
        sc->vars["kwargs"] = kwargs;
        std::string out;
        exec(*b, sc, out);
        return Value::string(std::move(out));
    };
    return m;
}

// ---- expressions ----

Value Evaluator::eval(const Expr& e, const std::shared_ptr<Scope>& scope) {
    DepthGuard g(*this);
    try {
        return eval_inner(e, scope);
    } catch (const Failure& f) {
        throw TemplateError(f.raised ? std::string(f.what()) : cat("line ", e.line, ", column ", e.col, ": ", f.what()),
                            e.line, e.col, f.raised);
    }
}

Args Evaluator::eval_args(const CallArgs& c, const std::shared_ptr<Scope>& scope) {
    Args a;
    for (const auto& p : c.pos) a.pos.push_back(eval(*p, scope));
    if (c.star)
        for (auto& v : iterate(eval(*c.star, scope))) a.pos.push_back(std::move(v));
    for (const auto& [k, v] : c.kw) a.kw.emplace_back(k, eval(*v, scope));
    if (c.starstar) {
        const Value d = eval(*c.starstar, scope);
        if (d.kind != Value::Kind::Dict) throw Failure("argument after ** must be a mapping");
        for (const auto& [k, v] : d.dict->items) a.kw.emplace_back(to_str(k), v);
    }
    return a;
}

Value Evaluator::eval_filter_chain(const Expr& e, const std::shared_ptr<Scope>& scope, const Value& innermost) {
    Value v = e.args[0] ? eval_filter_chain(*e.args[0], scope, innermost) : innermost;
    Args a = eval_args(e.call, scope);
    return filter(e.name, std::move(v), a);
}

Value Evaluator::eval_inner(const Expr& e, const std::shared_ptr<Scope>& scope) {
    switch (e.kind) {
        case ExprKind::Const: return e.value;
        case ExprKind::Name: {
            if (const Value* v = scope->find(e.name)) return *v;
            return Value::undefined(cat("'", e.name, "' is undefined"));
        }
        case ExprKind::List:
        case ExprKind::Tuple: {
            std::vector<Value> items;
            for (const auto& a : e.args) items.push_back(eval(*a, scope));
            check_items(items.size());
            return Value::make_list(std::move(items), e.kind == ExprKind::Tuple);
        }
        case ExprKind::Dict: {
            Value d = Value::make_dict();
            for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
                Value key = eval(*e.args[k], scope);
                if (key.kind == Value::Kind::List && !key.list->tuple) throw Failure("unhashable type: 'list'");
                if (key.kind == Value::Kind::Dict) throw Failure("unhashable type: 'dict'");
                d.dict->set(std::move(key), eval(*e.args[k + 1], scope));
            }
            check_items(d.dict->items.size());
            return d;
        }
        case ExprKind::GetAttr: return getattr(eval(*e.args[0], scope), e.name);
        case ExprKind::GetItem: {
            Value obj = eval(*e.args[0], scope);
            const Expr& idx = *e.args[1];
            if (idx.kind == ExprKind::Slice) {
                Value parts = Value::make_list();
                for (int k = 0; k < 3; ++k)
                    parts.list->items.push_back(idx.args[size_t(k)] ? eval(*idx.args[size_t(k)], scope) : Value::none());
                parts.kind = Value::Kind::List;
                parts.s = "slice";  // marks a slice for getitem
                return getitem(obj, parts);
            }
            return getitem(obj, eval(idx, scope));
        }
        case ExprKind::Slice: throw Failure("slice outside a subscript");
        case ExprKind::Call: {
            Value fn = eval(*e.args[0], scope);
            Args a = eval_args(e.call, scope);
            return call(fn, a);
        }
        case ExprKind::Filter: {
            Value v = e.args[0] ? eval(*e.args[0], scope) : Value::undefined();
            Args a = eval_args(e.call, scope);
            return filter(e.name, std::move(v), a);
        }
        case ExprKind::Test: {
            const Value v = eval(*e.args[0], scope);
            Args a = eval_args(e.call, scope);
            return Value::boolean(test(e.name, v, a) != e.negated);
        }
        case ExprKind::Not: return Value::boolean(!eval(*e.args[0], scope).truthy());
        case ExprKind::Neg:
        case ExprKind::Pos: {
            const Value v = eval(*e.args[0], scope);
            if (v.is_undefined()) undefined_error(v);
            const bool neg = e.kind == ExprKind::Neg;
            if (v.kind == Value::Kind::Float) return Value::number(neg ? -v.f : v.f);
            if (v.is_integer()) {
                const int64_t x = v.kind == Value::Kind::Bool ? v.b : v.i;
                if (neg && x == INT64_MIN) throw Failure("integer overflow");
                return Value::integer(neg ? -x : x);
            }
            throw Failure(cat("bad operand type for unary ", neg ? "-" : "+", ": '", type_name(v), "'"));
        }
        case ExprKind::Binary: return binary_op(e.name, eval(*e.args[0], scope), eval(*e.args[1], scope));
        case ExprKind::And: {
            Value l = eval(*e.args[0], scope);
            return l.truthy() ? eval(*e.args[1], scope) : l;
        }
        case ExprKind::Or: {
            Value l = eval(*e.args[0], scope);
            return l.truthy() ? l : eval(*e.args[1], scope);
        }
        case ExprKind::Compare: {
            Value l = eval(*e.args[0], scope);
            for (size_t k = 0; k < e.ops.size(); ++k) {
                Value r = eval(*e.args[k + 1], scope);
                const std::string& op = e.ops[k];
                bool ok;
                if (op == "==") ok = equals(l, r);
                else if (op == "!=") ok = !equals(l, r);
                else if (op == "in") ok = contains(r, l);
                else if (op == "notin") ok = !contains(r, l);
                else {
                    if (l.is_undefined()) undefined_error(l);
                    if (r.is_undefined()) undefined_error(r);
                    const int c = compare(l, r);
                    ok = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
                }
                if (!ok) return Value::boolean(false);
                l = std::move(r);
            }
            return Value::boolean(true);
        }
        case ExprKind::CondExpr:
            if (eval(*e.args[0], scope).truthy()) return eval(*e.args[1], scope);
            if (e.args[2]) return eval(*e.args[2], scope);
            return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
    }
    return Value::undefined();
}

// ---- lookups and calls ----

namespace {

const char* object_name(const Value& v) {
    switch (v.kind) {
        case Value::Kind::Dict: return "dict object";
        case Value::Kind::List: return v.list->tuple ? "tuple object" : "list object";
        case Value::Kind::String: return "str object";
        case Value::Kind::None: return "None";
        case Value::Kind::Int: return "int object";
        case Value::Kind::Float: return "float object";
        case Value::Kind::Bool: return "bool object";
        case Value::Kind::Namespace: return "Namespace object";
        default: return "object";
    }
}

Value missing(const Value& obj, const std::string& what) {
    return Value::undefined(cat("'", object_name(obj), "' has no attribute ", what));
}

// Python index into a sequence of n elements; -1 when out of range.
int64_t norm_index(int64_t i, size_t n) {
    if (i < 0) i += int64_t(n);
    return i < 0 || i >= int64_t(n) ? -1 : i;
}

// Python slice indices.
std::vector<size_t> slice_indices(const Value& parts, size_t n) {
    auto get = [](const Value& v, const char* what) -> std::optional<int64_t> {
        if (v.is_none()) return std::nullopt;
        if (!v.is_integer()) throw Failure(cat("slice ", what, " must be an integer or None"));
        return v.kind == Value::Kind::Bool ? int64_t(v.b) : v.i;
    };
    const auto start = get(parts.list->items[0], "start"), stop = get(parts.list->items[1], "stop"),
               stepv = get(parts.list->items[2], "step");
    const int64_t step = stepv.value_or(1);
    if (step == 0) throw Failure("slice step cannot be zero");
    const int64_t len = int64_t(n);
    auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
        if (!v) return dflt;
        int64_t x = *v;
        if (x < 0) x = std::max<int64_t>(x + len, step < 0 ? -1 : 0);
        else x = std::min<int64_t>(x, step < 0 ? len - 1 : len);
        return x;
    };
    const int64_t lo = clamp(start, step < 0 ? len - 1 : 0), hi = clamp(stop, step < 0 ? -1 : len);
    std::vector<size_t> idx;
    for (int64_t k = lo; step > 0 ? k < hi : k > hi;) {
        idx.push_back(size_t(k));
        if (__builtin_add_overflow(k, step, &k)) break;
    }
    return idx;
}

}  // namespace

Value Evaluator::getattr(const Value& obj, const std::string& name) {
    if (obj.is_undefined()) undefined_error(obj);
    if (obj.kind == Value::Kind::Namespace) {
        if (const Value* v = obj.dict->find(std::string_view(name))) return *v;
        return missing(obj, "'" + name + "'");
    }
    if (auto attr = python_attribute(*this, obj, name)) return *attr;
    if (obj.kind == Value::Kind::Dict)
        if (const Value* v = obj.dict->find(std::string_view(name))) return *v;
    return missing(obj, "'" + name + "'");
}

Value Evaluator::getitem(const Value& obj, const Value& key) {
    if (obj.is_undefined()) undefined_error(obj);
    const bool slice = key.kind == Value::Kind::List && key.s == "slice";
    // jinja2 compiles a slice to a plain Python subscript (no getitem fallback).
    if (slice && !((obj.is_list() && !obj.is_lazy()) || obj.is_string()))
        throw Failure(obj.is_dict() ? std::string("unhashable type: 'slice'")
                                    : cat("'", type_name(obj), "' object is not subscriptable"));
    if (obj.is_lazy()) return Value::undefined(cat("'", type_name(obj), "' object is not subscriptable"));
    if (slice) {
        if (obj.is_string()) {
            const auto cps = decode_utf8(obj.s);
            std::string out;
            for (size_t k : slice_indices(key, cps.size())) append_utf8(out, cps[k]);
            return Value::string(std::move(out));
        }
        std::vector<Value> items;
        for (size_t k : slice_indices(key, obj.list->items.size())) items.push_back(obj.list->items[k]);
        return Value::make_list(std::move(items), obj.list->tuple);
    }
    if (!slice) {
        if (obj.kind == Value::Kind::Dict) {
            if (const Value* v = obj.dict->find(key)) return *v;
        } else if (obj.is_list() && key.is_integer()) {
            const int64_t i = norm_index(key.kind == Value::Kind::Bool ? key.b : key.i, obj.list->items.size());
            if (i >= 0) return obj.list->items[size_t(i)];
        } else if (obj.is_string() && key.is_integer()) {
            const auto cps = decode_utf8(obj.s);
            const int64_t i = norm_index(key.kind == Value::Kind::Bool ? key.b : key.i, cps.size());
            if (i >= 0) {
                std::string out;
                append_utf8(out, cps[size_t(i)]);
                return Value::string(std::move(out));
            }
        } else if (obj.kind == Value::Kind::Namespace && key.is_string()) {
            if (const Value* v = obj.dict->find(std::string_view(key.s))) return *v;
        }
        if (key.is_string() && obj.kind != Value::Kind::Namespace)
            if (auto attr = python_attribute(*this, obj, key.s)) return *attr;
    }
    return Value::undefined(cat("'", object_name(obj), "' has no attribute ", slice ? "slice" : to_repr(key)));
}

Value Evaluator::call(const Value& fn, Args& args) {
    if (fn.is_undefined()) undefined_error(fn);
    if (fn.kind != Value::Kind::Callable) throw Failure(cat("'", type_name(fn), "' object is not callable"));
    DepthGuard g(*this);
    return fn.fn->call(args);
}

Value Evaluator::filter(const std::string& name, Value v, Args& args) {
    if (!has_filter(name)) throw Failure(cat("no filter named '", name, "'"));
    return apply_filter(*this, name, std::move(v), args);
}

bool Evaluator::test(const std::string& name, const Value& v, Args& args) {
    if (!has_test(name)) throw Failure(cat("no test named '", name, "'"));
    return apply_test(*this, name, v, args);
}

}  // namespace qlm::tmpl
