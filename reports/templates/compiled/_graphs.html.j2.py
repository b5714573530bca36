from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = '_graphs.html.j2'

def root(context, missing=missing, environment=environment):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_gauge = l_0_trend = missing
    try:
        t_1 = environment.filters['format']
    except KeyError:
        @internalcode
        def t_1(*unused):
            raise TemplateRuntimeError("No filter named 'format' found.")
    try:
        t_2 = environment.filters['int']
    except KeyError:
        @internalcode
        def t_2(*unused):
            raise TemplateRuntimeError("No filter named 'int' found.")
    try:
        t_3 = environment.filters['reverse']
    except KeyError:
        @internalcode
        def t_3(*unused):
            raise TemplateRuntimeError("No filter named 'reverse' found.")
    try:
        t_4 = environment.filters['round']
    except KeyError:
        @internalcode
        def t_4(*unused):
            raise TemplateRuntimeError("No filter named 'round' found.")
    try:
        t_5 = environment.tests['number']
    except KeyError:
        @internalcode
        def t_5(*unused):
            raise TemplateRuntimeError("No test named 'number' found.")
    pass
    def macro(l_1_g, l_1_value, l_1_grade):
        t_6 = []
        if l_1_g is missing:
            l_1_g = undefined("parameter 'g' was not provided", name='g')
        if l_1_value is missing:
            l_1_value = undefined("parameter 'value' was not provided", name='value')
        if l_1_grade is missing:
            l_1_grade = undefined("parameter 'grade' was not provided", name='grade')
        pass
        t_6.extend((
            '<svg class="gauge g',
            escape((l_1_grade or 'none')),
            '" viewBox="0 0 ',
            escape(environment.getattr(l_1_g, 'size')),
            ' ',
            escape((environment.getattr(l_1_g, 'size') * 0.86)),
            '" width="184" height="158" role="img" aria-label="Overall score ',
            escape((t_1('%.1f', l_1_value) if t_5(l_1_value) else 'not available')),
            ', grade ',
            escape((l_1_grade or 'none')),
            '">\n  <path class="track" d="',
            escape(environment.getattr(l_1_g, 'track')),
            '" fill="none" stroke-width="',
            escape(environment.getattr(l_1_g, 'stroke')),
            '" stroke-linecap="round"/>\n',
        ))
        if environment.getattr(l_1_g, 'value'):
            pass
            t_6.extend((
                '<path class="val" d="',
                escape(environment.getattr(l_1_g, 'value')),
                '" fill="none" stroke-width="',
                escape(environment.getattr(l_1_g, 'stroke')),
                '" stroke-linecap="round"/>',
            ))
        t_6.extend((
            '  <text class="num" x="',
            escape(environment.getattr(l_1_g, 'cx')),
            '" y="',
            escape((environment.getattr(l_1_g, 'cy') + 4)),
            '" text-anchor="middle">',
            escape((t_1('%.0f', l_1_value) if t_5(l_1_value) else '–')),
            '</text>\n  <text class="grade" x="',
            escape(environment.getattr(l_1_g, 'cx')),
            '" y="',
            escape((environment.getattr(l_1_g, 'cy') + 34)),
            '" text-anchor="middle">grade ',
            escape((l_1_grade or '–')),
            '</text>\n</svg>\n',
        ))
        return concat(t_6)
    context.exported_vars.add('gauge')
    context.vars['gauge'] = l_0_gauge = Macro(environment, macro, 'gauge', ('g', 'value', 'grade'), False, False, False, context.eval_ctx.autoescape)
    yield '\n'
    def macro(l_1_t):
        t_7 = []
        if l_1_t is missing:
            l_1_t = undefined("parameter 't' was not provided", name='t')
        pass
        t_7.extend((
            '<svg class="trend" width="',
            escape(t_2(t_4(environment.getattr(l_1_t, 'width')))),
            '" height="',
            escape(t_2(t_4(environment.getattr(l_1_t, 'height')))),
            '" viewBox="0 0 ',
            escape(t_2(t_4(environment.getattr(l_1_t, 'width')))),
            ' ',
            escape(t_2(t_4(environment.getattr(l_1_t, 'height')))),
            '" role="img" aria-label="Score trend">\n',
        ))
        for l_2_g in environment.getattr(l_1_t, 'grid'):
            _loop_vars = {}
            pass
            t_7.extend((
                '<line class="grid" x1="',
                escape(environment.getattr(l_1_t, 'x0')),
                '" x2="',
                escape(environment.getattr(l_1_t, 'x1')),
                '" y1="',
                escape(t_1('%.1f', environment.getattr(l_2_g, 'y'))),
                '" y2="',
                escape(t_1('%.1f', environment.getattr(l_2_g, 'y'))),
                '"/><text class="axis" x="',
                escape((environment.getattr(l_1_t, 'x0') - 6)),
                '" y="',
                escape(t_1('%.1f', (environment.getattr(l_2_g, 'y') + 4))),
                '" text-anchor="end">',
                escape(environment.getattr(l_2_g, 'v')),
                '</text>\n',
            ))
        l_2_g = missing
        for l_2_line in t_3(environment.getattr(l_1_t, 'lines')):
            _loop_vars = {}
            pass
            for l_3_seg in environment.getattr(l_2_line, 'segs'):
                _loop_vars = {}
                pass
                t_7.extend((
                    '<polyline class="tl ',
                    escape(environment.getattr(l_2_line, 'cls')),
                    '" points="',
                    escape(l_3_seg),
                    '"><title>',
                    escape(environment.getattr(l_2_line, 'name')),
                    '</title></polyline>',
                ))
            l_3_seg = missing
        l_2_line = missing
        for l_2_p in environment.getattr(l_1_t, 'points'):
            _loop_vars = {}
            pass
            t_7.extend((
                '<circle class="pt" cx="',
                escape(t_1('%.1f', environment.getattr(l_2_p, 'x'))),
                '" cy="',
                escape(t_1('%.1f', environment.getattr(l_2_p, 'y'))),
                '" r="3.5"><title>',
                escape(environment.getattr(l_2_p, 'at')),
                ': ',
                escape(t_1('%.1f', environment.getattr(l_2_p, 'v'))),
                '</title></circle>',
            ))
        l_2_p = missing
        for l_2_p in environment.getattr(l_1_t, 'labels'):
            _loop_vars = {}
            pass
            t_7.extend((
                '<text class="axis" x="',
                escape(t_1('%.1f', environment.getattr(l_2_p, 'x'))),
                '" y="',
                escape((environment.getattr(l_1_t, 'base') + 18)),
                '" text-anchor="middle">',
                escape(environment.getattr(l_2_p, 'at')[:10]),
                '</text>',
            ))
        l_2_p = missing
        t_7.append(
            '</svg>\n<ul class="legend small">\n',
        )
        for l_2_line in environment.getattr(l_1_t, 'lines'):
            _loop_vars = {}
            pass
            t_7.extend((
                '<li><span class="sw ',
                escape(environment.getattr(l_2_line, 'cls')),
                '"></span>',
                escape(environment.getattr(l_2_line, 'name')),
                '</li>',
            ))
        l_2_line = missing
        t_7.append(
            '</ul>\n',
        )
        return concat(t_7)
    context.exported_vars.add('trend')
    context.vars['trend'] = l_0_trend = Macro(environment, macro, 'trend', ('t',), False, False, False, context.eval_ctx.autoescape)

blocks = {}
debug_info = '6=42&7=53&8=63&9=68&10=79&11=85&15=96&16=103&17=112&19=133&21=150&22=165&25=181'
# Generated by `python -m reports.precompile` from reports/templates/_graphs.html.j2: do not edit.
# posture-template-key: 67bdf650949fa3bb3cb0122c093cd71f8fc4af1e916fabfdf228053cf7007761
