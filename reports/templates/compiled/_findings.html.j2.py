from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = '_findings.html.j2'

def root(context, missing=missing, environment=environment):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_bands = resolve('bands')
    try:
        t_1 = environment.filters['format']
    except KeyError:
        @internalcode
        def t_1(*unused):
            raise TemplateRuntimeError("No filter named 'format' found.")
    try:
        t_2 = environment.filters['replace']
    except KeyError:
        @internalcode
        def t_2(*unused):
            raise TemplateRuntimeError("No filter named 'replace' found.")
    try:
        t_3 = environment.tests['number']
    except KeyError:
        @internalcode
        def t_3(*unused):
            raise TemplateRuntimeError("No test named 'number' found.")
    pass
    l_1_loop = missing
    for l_1_band, l_1_loop in LoopContext((undefined(name='bands') if l_0_bands is missing else l_0_bands), undefined):
        l_1_by_layer = resolve('by_layer')
        l_1_entries = missing
        _loop_vars = {}
        pass
        l_1_entries = (context.call(environment.getattr((undefined(name='by_layer') if l_1_by_layer is missing else l_1_by_layer), 'get'), environment.getattr(l_1_band, 'name'), _loop_vars=_loop_vars) or [])
        _loop_vars['entries'] = l_1_entries
        yield '<section class="layer card" id="layer-'
        yield escape(environment.getattr(l_1_band, 'name'))
        yield '" data-layer="'
        yield escape(environment.getattr(l_1_band, 'name'))
        yield '">\n  <h3 class="layer-head"><span class="grade-badge g'
        yield escape((environment.getattr(l_1_band, 'grade') or 'none'))
        yield '">'
        yield escape((environment.getattr(l_1_band, 'grade') or '–'))
        yield '</span> <span class="lname">'
        yield escape(environment.getattr(l_1_band, 'name'))
        yield '</span>\n    <span class="muted small">'
        yield escape((t_1('%.0f', environment.getattr(l_1_band, 'score')) if t_3(environment.getattr(l_1_band, 'score')) else 'not assessed'))
        yield ' · '
        yield escape(environment.getattr(l_1_band, 'failed_checks'))
        yield '/'
        yield escape(environment.getattr(l_1_band, 'checks'))
        yield ' checks failing</span></h3>\n'
        if (undefined(name='entries') if l_1_entries is missing else l_1_entries):
            pass
            yield '  <table class="sortable checks">\n    <thead><tr><th>Check</th><th>Severity</th><th>Status</th><th>Score</th><th title="subjects">Subjects</th><th>Pass</th><th>Fail</th><th>Warn</th><th>Waived</th></tr></thead>\n    <tbody>\n'
            for l_2_e in (undefined(name='entries') if l_1_entries is missing else l_1_entries):
                l_2_c = missing
                _loop_vars = {}
                pass
                l_2_c = environment.getattr(l_2_e, 'c')
                _loop_vars['c'] = l_2_c
                yield '      <tr class="st-'
                yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'status'))
                yield '"><td data-v="'
                yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'id'))
                yield '">'
                if environment.getattr(l_2_e, 'rows'):
                    pass
                    yield '<a href="#chk-'
                    yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'id'))
                    yield '"><code>'
                    yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'id'))
                    yield '</code></a>'
                else:
                    pass
                    yield '<code>'
                    yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'id'))
                    yield '</code>'
                yield ' <span class="d">'
                yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'title'))
                yield '</span>'
                if environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'error'):
                    pass
                    yield '<small class="err">'
                    yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'error'))
                    yield '</small>'
                yield '</td><td data-v="'
                yield escape(environment.getattr(l_2_e, 'sev_rank'))
                yield '"><span class="sev '
                yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'severity'))
                yield '">'
                yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'severity'))
                yield '</span></td><td data-v="'
                yield escape(environment.getattr(l_2_e, 'status_rank'))
                yield '"><span class="st '
                yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'status'))
                yield '">'
                yield escape(t_2(context.eval_ctx, environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'status'), '_', ' '))
                yield '</span></td><td data-v="'
                yield escape((environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'score') if t_3(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'score')) else -1))
                yield '">'
                yield escape((t_1('%.0f', environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'score')) if t_3(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'score')) else '–'))
                yield '</td><td>'
                yield escape(environment.getattr(environment.getattr(l_2_e, 'subjects'), 'total'))
                yield '</td><td>'
                yield escape(environment.getattr(environment.getattr(l_2_e, 'subjects'), 'passing'))
                yield '</td><td>'
                yield escape(environment.getattr(environment.getattr(l_2_e, 'subjects'), 'failing'))
                yield '</td><td>'
                yield escape(environment.getattr(environment.getattr(l_2_e, 'subjects'), 'warning'))
                yield '</td><td>'
                yield escape(environment.getattr(environment.getattr(l_2_e, 'subjects'), 'waived'))
                yield '</td></tr>\n'
            l_2_e = l_2_c = missing
            yield '    </tbody>\n  </table>\n'
            def t_4(fiter):
                for l_2_e in fiter:
                    if environment.getattr(l_2_e, 'rows'):
                        yield l_2_e
            l_2_loop = missing
            for l_2_e, l_2_loop in LoopContext(t_4((undefined(name='entries') if l_1_entries is missing else l_1_entries)), undefined):
                l_2_c = missing
                _loop_vars = {}
                pass
                l_2_c = environment.getattr(l_2_e, 'c')
                _loop_vars['c'] = l_2_c
                yield '  <details class="chk" id="chk-'
                yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'id'))
                yield '" data-block data-l="'
                yield escape(environment.getattr(l_1_band, 'name'))
                yield '" open>\n    <summary><span class="sev '
                yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'severity'))
                yield '">'
                yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'severity'))
                yield '</span> <code>'
                yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'id'))
                yield '</code> '
                yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'title'))
                yield ' <span class="muted small" data-shown>'
                yield escape(environment.getattr(l_2_e, 'rows'))
                yield '</span></summary>\n'
                if environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'rationale'):
                    pass
                    yield '<p class="why">'
                    yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'rationale'))
                    yield '</p>'
                if environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'remediation'):
                    pass
                    yield '<p class="fix"><b>Remediation:</b> '
                    yield escape(environment.getattr((undefined(name='c') if l_2_c is missing else l_2_c), 'remediation'))
                    yield '</p>'
                if environment.getattr(l_2_e, 'refs'):
                    pass
                    yield '<p class="refs small"><b>References:</b> '
                    l_3_loop = missing
                    for l_3_ref, l_3_loop in LoopContext(environment.getattr(l_2_e, 'refs'), undefined):
                        _loop_vars = {}
                        pass
                        if environment.getattr(l_3_ref, 'href'):
                            pass
                            yield '<a href="'
                            yield escape(environment.getattr(l_3_ref, 'href'))
                            yield '" rel="noopener noreferrer">'
                            yield escape(environment.getattr(l_3_ref, 'text'))
                            yield '</a>'
                        else:
                            pass
                            yield '<span>'
                            yield escape(environment.getattr(l_3_ref, 'text'))
                            yield '</span>'
                        yield escape((' · ' if (not environment.getattr(l_3_loop, 'last')) else cond_expr_undefined("the inline if-expression on line 26 in '_findings.html.j2' evaluated to false and no else section was defined.")))
                    l_3_loop = l_3_ref = missing
                    yield '</p>'
                yield '    <table class="sortable findings">\n      <thead><tr><th>Sev</th><th>Status</th><th>Subject</th><th>Finding</th><th>Namespace</th><th>Location</th></tr></thead>\n      <tbody>\n'
                yield escape(environment.getattr(l_2_e, 'rows_html'))
                yield '      </tbody>\n    </table>\n  </details>\n'
            l_2_loop = l_2_e = l_2_c = missing
        else:
            pass
            yield '  <p class="muted">No checks ran for this layer.</p>\n'
        yield '</section>\n'
    l_1_loop = l_1_band = l_1_by_layer = l_1_entries = missing

blocks = {}
debug_info = '5=31&6=36&7=39&8=43&9=49&10=55&14=58&15=62&16=65&20=118&21=127&22=130&23=134&24=144&25=149&26=154&30=177'
# Generated by `python -m reports.precompile` from reports/templates/_findings.html.j2: do not edit.
# posture-template-key: f4349f61d37eefdc2057536763d9d9d5743dde67f778a0b147f16d87ab193e0f
