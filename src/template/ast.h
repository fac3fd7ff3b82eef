// The syntax tree of a template: expressions and statements, each with the
// line and column it starts at (errors name them).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/value.h"

namespace qlm::tmpl {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
    Const,     // value
    Name,      // name
    List,      // args
    Tuple,     // args
    Dict,      // args: key, value, key, value, ...
    GetAttr,   // args[0] . name
    GetItem,   // args[0] [ args[1] ]
    Slice,     // args[0..2]: start, stop, step (null = absent)
    Call,      // args[0] ( call )
    Filter,    // args[0] | name ( call ); args[0] null in {% filter %} / block set
    Test,      // args[0] is [not] name ( call )
    Not,       // not args[0]
    Neg,       // -args[0]
    Pos,       // +args[0]
    Binary,    // args[0] op args[1]: + - * / // % ** ~
    And,       // args[0] and args[1]
    Or,        // args[0] or args[1]
    Compare,   // args[0] ops[0] args[1] ops[1] args[2] ...
    CondExpr,  // args[1] if args[0] else args[2] (args[2] may be null)
};

struct CallArgs {
    std::vector<ExprPtr> pos;
    std::vector<std::pair<std::string, ExprPtr>> kw;
    ExprPtr star, starstar;
};

struct Expr {
    ExprKind kind;
    int line = 0, col = 0;
    std::string name;  // Name, attribute, filter or test name, Binary operator
    Value value;       // Const
    std::vector<ExprPtr> args;
    std::vector<std::string> ops;  // Compare: == != < <= > >= in notin
    CallArgs call;
    bool negated = false;  // Test
};

enum class StmtKind {
    Text,     // text
    Print,    // expr
    If,       // branches (cond, body); a null cond is the else branch
    For,      // target, expr (iterable), cond (loop filter), body, else_body
    Set,      // target = expr
    SetBlock, // target = rendered body, through expr (a Filter chain) if any
    Macro,    // name, params, body
    CallBlock,// expr (the call), params (caller's), body (caller's)
    FilterBlock, // expr (filter chain with a null innermost arg), body
    Break,
    Continue,
    Scope,    // body rendered in place ({% generation %})
};

// An assignment target: a name, ns.attr, or a tuple of targets.
struct Target {
    std::string name;                // Name
    std::string attr;                // ns.attr when non-empty
    std::vector<Target> items;       // tuple when non-empty
    bool tuple = false;
};

struct Param {
    std::string name;
    ExprPtr default_value;  // may be null
};

struct Stmt {
    StmtKind kind;
    int line = 0, col = 0;
    std::string text;  // Text; Macro name
    ExprPtr expr, cond;
    Target target;
    std::vector<std::pair<ExprPtr, Body>> branches;
    Body body, else_body;
    std::vector<Param> params;
};

struct Program {
    std::string source;
    Body body;
};

}  // namespace qlm::tmpl
