from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'report.html.j2'

def root(context, missing=missing, environment=environment):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_parts = resolve('parts')
    l_0_script_hash = resolve('script_hash')
    l_0_tool = resolve('tool')
    l_0_score = resolve('score')
    l_0_overall_grade = resolve('overall_grade')
    l_0_css = resolve('css')
    l_0_gauge = resolve('gauge')
    l_0_scan = resolve('scan')
    l_0_r = resolve('r')
    l_0_gate = resolve('gate')
    l_0_trend = resolve('trend')
    l_0_waived = resolve('waived')
    l_0_waivers = resolve('waivers')
    l_0_has_matrix = resolve('has_matrix')
    l_0_has_exposure = resolve('has_exposure')
    l_0_has_flux = resolve('has_flux')
    l_0_errors = resolve('errors')
    l_0_bands = resolve('bands')
    l_0_SEVERITIES = resolve('SEVERITIES')
    l_0_order = resolve('order')
    l_0_namespaces = resolve('namespaces')
    l_0_total = resolve('total')
    l_0_waived_html = resolve('waived_html')
    l_0_matrix = resolve('matrix')
    l_0_exposure = resolve('exposure')
    l_0_flux = resolve('flux')
    l_0_js = resolve('js')
    l_0_graphs = missing
    try:
        t_1 = environment.filters['format']
    except KeyError:
        @internalcode
        def t_1(*unused):
            raise TemplateRuntimeError("No filter named 'format' found.")
    try:
        t_2 = environment.filters['length']
    except KeyError:
        @internalcode
        def t_2(*unused):
            raise TemplateRuntimeError("No filter named 'length' found.")
    try:
        t_3 = environment.filters['replace']
    except KeyError:
        @internalcode
        def t_3(*unused):
            raise TemplateRuntimeError("No filter named 'replace' found.")
    try:
        t_4 = environment.filters['truncate']
    except KeyError:
        @internalcode
        def t_4(*unused):
            raise TemplateRuntimeError("No filter named 'truncate' found.")
    try:
        t_5 = environment.tests['number']
    except KeyError:
        @internalcode
        def t_5(*unused):
            raise TemplateRuntimeError("No test named 'number' found.")
    pass
    l_0_graphs = context.vars['graphs'] = environment.get_template('_graphs.html.j2', 'report.html.j2')._get_default_module(context)
    context.exported_vars.discard('graphs')
    if ('main' in (undefined(name='parts') if l_0_parts is missing else l_0_parts)):
        pass
        yield '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; script-src '
        yield escape((undefined(name='script_hash') if l_0_script_hash is missing else l_0_script_hash))
        yield '; style-src \'unsafe-inline\'; img-src data:; base-uri \'none\'; form-action \'none\'">\n<meta name="color-scheme" content="light dark">\n<meta name="generator" content="'
        yield escape(environment.getattr((undefined(name='tool') if l_0_tool is missing else l_0_tool), 'name'))
        yield ' '
        yield escape(environment.getattr((undefined(name='tool') if l_0_tool is missing else l_0_tool), 'version'))
        yield '">\n<title>Posture '
        yield escape((t_1('%.0f', environment.getattr((undefined(name='score') if l_0_score is missing else l_0_score), 'overall')) if t_5(environment.getattr((undefined(name='score') if l_0_score is missing else l_0_score), 'overall')) else 'n/a'))
        yield ' ('
        yield escape(((undefined(name='overall_grade') if l_0_overall_grade is missing else l_0_overall_grade) or '–'))
        yield ') · '
        yield escape((environment.getattr((undefined(name='tool') if l_0_tool is missing else l_0_tool), 'name') or 'gitops-posture'))
        yield '</title>\n<link rel="icon" href="data:,">\n<style>'
        yield escape((undefined(name='css') if l_0_css is missing else l_0_css))
        yield '</style>\n</head>\n<body>\n<header class="top">\n  <div class="gauge-wrap">'
        yield escape(context.call(environment.getattr((undefined(name='graphs') if l_0_graphs is missing else l_0_graphs), 'gauge'), (undefined(name='gauge') if l_0_gauge is missing else l_0_gauge), environment.getattr((undefined(name='score') if l_0_score is missing else l_0_score), 'overall'), (undefined(name='overall_grade') if l_0_overall_grade is missing else l_0_overall_grade)))
        yield '</div>\n  <div class="meta">\n    <h1>GitOps security posture</h1>\n    <dl class="kv">\n'
        for l_1_s in (environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'sources') or []):
            l_1_commit_href = resolve('commit_href')
            l_1_commit = resolve('commit')
            _loop_vars = {}
            pass
            yield '      <dt>'
            yield escape(('Repository' if (environment.getattr(l_1_s, 'type') == 'git') else 'Cluster'))
            yield '</dt>\n      <dd>'
            yield escape(((environment.getattr(l_1_s, 'path') or environment.getattr(l_1_s, 'context')) or '–'))
            if environment.getattr(l_1_s, 'commit'):
                pass
                yield ' @ '
                if ((undefined(name='commit_href') if l_1_commit_href is missing else l_1_commit_href) and (environment.getattr(l_1_s, 'commit') == (undefined(name='commit') if l_1_commit is missing else l_1_commit))):
                    pass
                    yield '<a href="'
                    yield escape((undefined(name='commit_href') if l_1_commit_href is missing else l_1_commit_href))
                    yield '" rel="noopener noreferrer"><code>'
                    yield escape(environment.getattr(l_1_s, 'commit')[:12])
                    yield '</code></a>'
                else:
                    pass
                    yield '<code>'
                    yield escape(environment.getattr(l_1_s, 'commit')[:12])
                    yield '</code>'
            yield '</dd>\n'
        l_1_s = l_1_commit_href = l_1_commit = missing
        yield '      <dt>Scanned</dt><dd><time datetime="'
        yield escape(environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'started_at'))
        yield '">'
        yield escape(t_3(context.eval_ctx, (environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'started_at') or '')[:19], 'T', ' '))
        yield '</time>'
        if t_5(environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'duration_s')):
            pass
            yield ' · '
            yield escape(t_1('%.1f', environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'duration_s')))
            yield ' s'
        yield '</dd>\n      <dt>Tool</dt><dd>'
        yield escape(environment.getattr((undefined(name='tool') if l_0_tool is missing else l_0_tool), 'name'))
        yield ' '
        yield escape(environment.getattr((undefined(name='tool') if l_0_tool is missing else l_0_tool), 'version'))
        yield ' · report schema '
        yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'schema_version'))
        yield '</dd>\n'
        if environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'entry_point'):
            pass
            yield '<dt>Entry point</dt><dd>'
            if environment.getattr(environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'entry_point'), 'found'):
                pass
                yield escape(environment.getattr(environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'entry_point'), 'kind'))
                yield ' <span class="mono">'
                yield escape(environment.getattr(environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'entry_point'), 'path'))
                if environment.getattr(environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'entry_point'), 'line'):
                    pass
                    yield ':'
                    yield escape(environment.getattr(environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'entry_point'), 'line'))
                yield '</span>'
            else:
                pass
                yield 'not found'
            if environment.getattr(environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'entry_point'), 'note'):
                pass
                yield ' <span class="muted">— '
                yield escape(environment.getattr(environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'entry_point'), 'note'))
                yield '</span>'
            yield '</dd>'
        yield '    </dl>\n  </div>\n'
        if environment.getattr((undefined(name='gate') if l_0_gate is missing else l_0_gate), 'evaluated'):
            pass
            yield '  <div class="gate '
            yield escape(('pass' if environment.getattr((undefined(name='gate') if l_0_gate is missing else l_0_gate), 'passed') else 'fail'))
            yield '" role="status">\n    <strong>Gate '
            yield escape(('passed' if environment.getattr((undefined(name='gate') if l_0_gate is missing else l_0_gate), 'passed') else 'failed'))
            yield '</strong>\n    <span class="muted">'
            if t_5(environment.getattr((undefined(name='gate') if l_0_gate is missing else l_0_gate), 'fail_under')):
                pass
                yield 'fail under '
                yield escape(environment.getattr((undefined(name='gate') if l_0_gate is missing else l_0_gate), 'fail_under'))
            if environment.getattr((undefined(name='gate') if l_0_gate is missing else l_0_gate), 'fail_on'):
                pass
                if t_5(environment.getattr((undefined(name='gate') if l_0_gate is missing else l_0_gate), 'fail_under')):
                    pass
                    yield ' · '
                yield 'fail on '
                yield escape(environment.getattr((undefined(name='gate') if l_0_gate is missing else l_0_gate), 'fail_on'))
            yield '</span>\n'
            if environment.getattr((undefined(name='gate') if l_0_gate is missing else l_0_gate), 'reasons'):
                pass
                yield '<ul>'
                for l_1_reason in environment.getattr((undefined(name='gate') if l_0_gate is missing else l_0_gate), 'reasons'):
                    _loop_vars = {}
                    pass
                    yield '<li>'
                    yield escape(l_1_reason)
                    yield '</li>'
                l_1_reason = missing
                yield '</ul>'
            yield '  </div>\n'
        yield '</header>\n\n<nav class="toc" aria-label="Sections">\n  <a href="#depth">Defense in depth</a>\n'
        if (undefined(name='trend') if l_0_trend is missing else l_0_trend):
            pass
            yield '<a href="#trend">Trend</a>'
        yield '  <a href="#findings">Checks &amp; findings</a>\n'
        if ((undefined(name='waived') if l_0_waived is missing else l_0_waived) or (undefined(name='waivers') if l_0_waivers is missing else l_0_waivers)):
            pass
            yield '<a href="#waived">Waived</a>'
        if (undefined(name='has_matrix') if l_0_has_matrix is missing else l_0_has_matrix):
            pass
            yield '<a href="#namespaces">Namespaces</a>'
        if (undefined(name='has_exposure') if l_0_has_exposure is missing else l_0_has_exposure):
            pass
            yield '<a href="#exposure">Exposure</a>'
        if (undefined(name='has_flux') if l_0_has_flux is missing else l_0_has_flux):
            pass
            yield '<a href="#flux">Flux graph</a>'
        if (undefined(name='errors') if l_0_errors is missing else l_0_errors):
            pass
            yield '<a href="#errors">Scan errors ('
            yield escape(t_2((undefined(name='errors') if l_0_errors is missing else l_0_errors)))
            yield ')</a>'
        yield '  <a href="#scan">Scan details</a>\n</nav>\n\n<main>\n<section id="depth" class="card">\n  <h2>Defense in depth</h2>\n  <p class="muted small">Outermost layer first. Each band is one layer\'s score; the weakest is marked.</p>\n  <ol class="bands">\n'
        l_1_loop = missing
        for l_1_b, l_1_loop in LoopContext((undefined(name='bands') if l_0_bands is missing else l_0_bands), undefined):
            _loop_vars = {}
            pass
            yield '    <li class="band g'
            yield escape((environment.getattr(l_1_b, 'grade') or 'none'))
            yield escape((' weakest' if environment.getattr(l_1_b, 'weakest') else cond_expr_undefined("the inline if-expression on line 62 in 'report.html.j2' evaluated to false and no else section was defined.")))
            yield '" style="--i:'
            yield escape(environment.getattr(l_1_loop, 'index0'))
            yield '">\n      <a href="#layer-'
            yield escape(environment.getattr(l_1_b, 'name'))
            yield '" class="band-name">'
            yield escape(environment.getattr(l_1_b, 'name'))
            yield '</a>\n      <span class="grade-badge g'
            yield escape((environment.getattr(l_1_b, 'grade') or 'none'))
            yield '">'
            yield escape((environment.getattr(l_1_b, 'grade') or '–'))
            yield '</span>\n      <span class="bar" aria-hidden="true"><span style="width:'
            yield escape((t_1('%.1f', environment.getattr(l_1_b, 'score')) if t_5(environment.getattr(l_1_b, 'score')) else 0))
            yield '%"></span></span>\n      <span class="band-score">'
            yield escape((t_1('%.0f', environment.getattr(l_1_b, 'score')) if t_5(environment.getattr(l_1_b, 'score')) else 'not assessed'))
            yield '</span>\n      <span class="band-counts">\n'
            def t_6(fiter):
                for l_2_s in fiter:
                    if environment.getitem(environment.getattr(l_1_b, 'findings'), l_2_s):
                        yield l_2_s
            for l_2_s in t_6((undefined(name='SEVERITIES') if l_0_SEVERITIES is missing else l_0_SEVERITIES)):
                _loop_vars = {}
                pass
                yield '<span class="sev '
                yield escape(l_2_s)
                yield '" title="'
                yield escape(l_2_s)
                yield ' findings">'
                yield escape(environment.getitem(environment.getattr(l_1_b, 'findings'), l_2_s))
                yield '</span>'
            l_2_s = missing
            yield '        <span class="muted small">'
            yield escape(environment.getattr(l_1_b, 'failed_checks'))
            yield '/'
            yield escape(environment.getattr(l_1_b, 'checks'))
            yield ' checks failing</span>\n      </span>\n'
            if environment.getattr(l_1_b, 'weakest'):
                pass
                yield '<span class="weak-tag">weakest</span>'
            yield '    </li>\n'
        l_1_loop = l_1_b = missing
        yield '  </ol>\n</section>\n\n'
        if (undefined(name='trend') if l_0_trend is missing else l_0_trend):
            pass
            yield '<section id="trend" class="card">\n  <h2>Trend</h2>\n  '
            yield escape(context.call(environment.getattr((undefined(name='graphs') if l_0_graphs is missing else l_0_graphs), 'trend'), (undefined(name='trend') if l_0_trend is missing else l_0_trend)))
            yield '\n</section>\n'
        yield '\n<section id="findings">\n  <h2>Checks &amp; findings</h2>\n  <form id="filters" class="filters" hidden aria-label="Filter findings">\n    <fieldset><legend>Severity</legend>\n'
        for l_1_s in (undefined(name='SEVERITIES') if l_0_SEVERITIES is missing else l_0_SEVERITIES):
            l_1_facets = resolve('facets')
            _loop_vars = {}
            pass
            yield '<label class="chip"><input type="checkbox" name="s" value="'
            yield escape(l_1_s)
            yield '" checked><span class="sev '
            yield escape(l_1_s)
            yield '">'
            yield escape(l_1_s)
            yield '</span> <span class="n" data-facet="s:'
            yield escape(l_1_s)
            yield '">'
            yield escape((environment.getitem(environment.getattr((undefined(name='facets') if l_1_facets is missing else l_1_facets), 's'), l_1_s) or 0))
            yield '</span></label>'
        l_1_s = l_1_facets = missing
        yield '    </fieldset>\n    <fieldset><legend>Status</legend>\n'
        for l_1_t in ['fail', 'warn', 'waived', 'pass']:
            l_1_facets = resolve('facets')
            _loop_vars = {}
            pass
            yield '<label class="chip"><input type="checkbox" name="t" value="'
            yield escape(l_1_t)
            yield '"'
            yield escape((' checked' if (l_1_t != 'pass') else cond_expr_undefined("the inline if-expression on line 91 in 'report.html.j2' evaluated to false and no else section was defined.")))
            yield '><span class="st '
            yield escape(l_1_t)
            yield '">'
            yield escape(l_1_t)
            yield '</span> <span class="n" data-facet="t:'
            yield escape(l_1_t)
            yield '">'
            yield escape((environment.getitem(environment.getattr((undefined(name='facets') if l_1_facets is missing else l_1_facets), 't'), l_1_t) or 0))
            yield '</span></label>'
        l_1_t = l_1_facets = missing
        yield '    </fieldset>\n    <fieldset><legend>Layer</legend>\n'
        for l_1_l in (undefined(name='order') if l_0_order is missing else l_0_order):
            l_1_facets = resolve('facets')
            _loop_vars = {}
            pass
            yield '<label class="chip"><input type="checkbox" name="l" value="'
            yield escape(l_1_l)
            yield '" checked>'
            yield escape(l_1_l)
            yield ' <span class="n" data-facet="l:'
            yield escape(l_1_l)
            yield '">'
            yield escape((environment.getitem(environment.getattr((undefined(name='facets') if l_1_facets is missing else l_1_facets), 'l'), l_1_l) or 0))
            yield '</span></label>'
        l_1_l = l_1_facets = missing
        yield '    </fieldset>\n    <div class="row">\n      <label>Namespace <select name="n">\n        <option value="*">all namespaces</option>\n'
        for (l_1_ns, l_1_count) in (undefined(name='namespaces') if l_0_namespaces is missing else l_0_namespaces):
            _loop_vars = {}
            pass
            yield '<option value="'
            yield escape(l_1_ns)
            yield '" data-label="'
            yield escape(('(cluster-scoped)' if (l_1_ns == '-') else l_1_ns))
            yield '">'
            yield escape(('(cluster-scoped)' if (l_1_ns == '-') else l_1_ns))
            yield ' ('
            yield escape(l_1_count)
            yield ')</option>'
        l_1_ns = l_1_count = missing
        yield '      </select></label>\n      <label>Search <input type="search" name="q" placeholder="message, subject, path… ( / )" autocomplete="off"></label>\n      <button type="reset">Reset</button>\n      <output id="shown" aria-live="polite">'
        yield escape((undefined(name='total') if l_0_total is missing else l_0_total))
        yield ' findings</output>\n    </div>\n  </form>\n\n'
        template = environment.get_template('_findings.html.j2', 'report.html.j2')
        gen = template.root_render_func(template.new_context(context.get_all(), True, {'graphs': l_0_graphs}))
        try:
            for event in gen:
                yield event
        finally: gen.close()
        yield '</section>\n\n'
        if ((undefined(name='waived') if l_0_waived is missing else l_0_waived) or (undefined(name='waivers') if l_0_waivers is missing else l_0_waivers)):
            pass
            yield '<section id="waived" class="card">\n  <h2>Waived findings</h2>\n  <p class="muted small">Accepted risks, kept apart from the findings above. Expired waivers no longer apply.</p>\n'
            if (undefined(name='waivers') if l_0_waivers is missing else l_0_waivers):
                pass
                yield '  <div class="scroll"><table class="sortable waivers">\n    <thead><tr><th>Check</th><th>Resource</th><th>Reason</th><th>Expires</th><th>Matched</th></tr></thead>\n    <tbody>\n'
                for l_1_w in (undefined(name='waivers') if l_0_waivers is missing else l_0_waivers):
                    _loop_vars = {}
                    pass
                    yield '      <tr class="'
                    yield escape(('expired' if environment.getattr(l_1_w, 'expired') else cond_expr_undefined("the inline if-expression on line 119 in 'report.html.j2' evaluated to false and no else section was defined.")))
                    yield escape((' stale' if (not environment.getattr(l_1_w, 'matched')) else cond_expr_undefined("the inline if-expression on line 119 in 'report.html.j2' evaluated to false and no else section was defined.")))
                    yield '"><td><code>'
                    yield escape(environment.getattr(l_1_w, 'check'))
                    yield '</code></td><td>'
                    yield escape(environment.getattr(l_1_w, 'resource'))
                    yield '</td><td>'
                    yield escape(environment.getattr(l_1_w, 'reason'))
                    yield '</td><td data-v="'
                    yield escape((environment.getattr(l_1_w, 'expires') or '9999'))
                    yield '">'
                    yield escape((environment.getattr(l_1_w, 'expires') or 'never'))
                    if environment.getattr(l_1_w, 'expired'):
                        pass
                        yield ' <b class="tag bad">expired</b>'
                    yield '</td><td data-v="'
                    yield escape((environment.getattr(l_1_w, 'matched') or 0))
                    yield '">'
                    yield escape((environment.getattr(l_1_w, 'matched') or 0))
                    if (not environment.getattr(l_1_w, 'matched')):
                        pass
                        yield ' <span class="tag">unused</span>'
                    yield '</td></tr>\n'
                l_1_w = missing
                yield '    </tbody>\n  </table>\n  </div>\n'
            if (undefined(name='waived') if l_0_waived is missing else l_0_waived):
                pass
                yield '  <div class="chk waived-block" data-block>\n    <h3>Waived findings <span class="muted small" data-shown>'
                yield escape((undefined(name='waived') if l_0_waived is missing else l_0_waived))
                yield '</span></h3>\n    <table class="sortable findings">\n      <thead><tr><th>Sev</th><th>Check</th><th>Subject</th><th>Message</th><th>Waiver</th><th>Location</th></tr></thead>\n      <tbody>\n'
                yield escape((undefined(name='waived_html') if l_0_waived_html is missing else l_0_waived_html))
                yield '      </tbody>\n    </table>\n  </div>\n'
            yield '</section>\n'
    if ('graphs' in (undefined(name='parts') if l_0_parts is missing else l_0_parts)):
        pass
        yield '\n'
        if environment.getattr((undefined(name='matrix') if l_0_matrix is missing else l_0_matrix), 'rows'):
            pass
            yield '<section id="namespaces" class="card">\n  <h2>Namespaces × layers</h2>\n  <p class="muted small">Worst namespace first. Cell: layer score (failing/total subjects). Click a namespace to filter the findings.</p>\n  <div class="scroll">\n  <table class="sortable matrix">\n    <thead><tr><th>Namespace</th><th>Worst</th>'
            for l_1_l in environment.getattr((undefined(name='matrix') if l_0_matrix is missing else l_0_matrix), 'cols'):
                _loop_vars = {}
                pass
                yield '<th>'
                yield escape(l_1_l)
                yield '</th>'
            l_1_l = missing
            yield '</tr></thead>\n    <tbody>\n'
            for l_1_row in environment.getattr((undefined(name='matrix') if l_0_matrix is missing else l_0_matrix), 'rows'):
                l_1_grade_of = resolve('grade_of')
                _loop_vars = {}
                pass
                yield '      <tr><th scope="row" data-v="'
                yield escape(environment.getattr(l_1_row, 'ns'))
                yield '"><a href="#findings" data-goto-ns="'
                yield escape(environment.getattr(l_1_row, 'ns'))
                yield '">'
                yield escape(environment.getattr(l_1_row, 'ns'))
                yield '</a></th><td data-v="'
                yield escape((environment.getattr(l_1_row, 'worst') if t_5(environment.getattr(l_1_row, 'worst')) else 101))
                yield '" class="g'
                yield escape((context.call((undefined(name='grade_of') if l_1_grade_of is missing else l_1_grade_of), environment.getattr(l_1_row, 'worst'), _loop_vars=_loop_vars) or 'none'))
                yield '">'
                yield escape((t_1('%.0f', environment.getattr(l_1_row, 'worst')) if t_5(environment.getattr(l_1_row, 'worst')) else '–'))
                yield '</td>\n'
                for l_2_c in environment.getattr(l_1_row, 'cells'):
                    _loop_vars = {}
                    pass
                    if l_2_c:
                        pass
                        yield '<td class="g'
                        yield escape((environment.getattr(l_2_c, 'grade') or 'none'))
                        yield '" data-v="'
                        yield escape((environment.getattr(l_2_c, 'score') if t_5(environment.getattr(l_2_c, 'score')) else 101))
                        yield '" title="'
                        yield escape(environment.getattr(l_2_c, 'failing'))
                        yield ' failing of '
                        yield escape(environment.getattr(l_2_c, 'total'))
                        yield '">'
                        yield escape((t_1('%.0f', environment.getattr(l_2_c, 'score')) if t_5(environment.getattr(l_2_c, 'score')) else '–'))
                        yield ' <small>'
                        yield escape(environment.getattr(l_2_c, 'failing'))
                        yield '/'
                        yield escape(environment.getattr(l_2_c, 'total'))
                        yield '</small></td>'
                    else:
                        pass
                        yield '<td data-v="101" class="gnone">·</td>'
                l_2_c = missing
                yield '</tr>\n'
            l_1_row = l_1_grade_of = missing
            yield '    </tbody>\n  </table>\n  </div>\n</section>\n'
        yield '\n'
        if environment.getattr((undefined(name='exposure') if l_0_exposure is missing else l_0_exposure), 'rows'):
            pass
            yield '<section id="exposure" class="card">\n  <h2>Exposure map</h2>\n  <p class="muted small">Who can reach what: zone → entry (class, gateway, tunnel) → host → backend. <span class="key open-ext">external, no auth</span> <span class="key auth">auth in front</span> <span class="key auth-weak">auth, provider not accepted</span> <span class="key open-int">internal, no auth</span></p>\n  <div class="scroll graph">'
            yield escape(environment.getattr((undefined(name='exposure') if l_0_exposure is missing else l_0_exposure), 'svg'))
            yield '</div>\n  <div class="scroll"><table class="sortable exposure">\n    <thead><tr><th>Host</th><th>Exposure</th><th>Kind</th><th>Via</th><th>Auth</th><th>Backend</th><th>Resource</th><th>Location</th></tr></thead>\n    <tbody>\n'
            for l_1_e in environment.getattr((undefined(name='exposure') if l_0_exposure is missing else l_0_exposure), 'rows'):
                _loop_vars = {}
                pass
                yield '      <tr class="'
                yield escape(environment.getattr(l_1_e, 'state'))
                yield '"><td>'
                yield escape(environment.getattr(l_1_e, 'host'))
                yield '</td><td><span class="tag '
                yield escape(('bad' if (environment.getattr(l_1_e, 'exposure') == 'external') else cond_expr_undefined("the inline if-expression on line 167 in 'report.html.j2' evaluated to false and no else section was defined.")))
                yield '">'
                yield escape(environment.getattr(l_1_e, 'exposure'))
                yield '</span>'
                if environment.getattr(l_1_e, 'reason'):
                    pass
                    yield '<small class="d">'
                    yield escape(environment.getattr(l_1_e, 'reason'))
                    yield '</small>'
                yield '</td><td>'
                yield escape(environment.getattr(l_1_e, 'kind'))
                yield '</td><td>'
                yield escape(environment.getattr(l_1_e, 'via'))
                yield '</td><td>'
                if environment.getattr(l_1_e, 'auth'):
                    pass
                    yield '<span'
                    if environment.getattr(l_1_e, 'auth_detail'):
                        pass
                        yield ' title="'
                        yield escape(environment.getattr(l_1_e, 'auth_detail'))
                        yield '"'
                    yield '>'
                    yield escape(environment.getattr(l_1_e, 'auth'))
                    yield '</span>'
                    if (not environment.getattr(l_1_e, 'accepted')):
                        pass
                        yield ' <b class="tag warn">provider not accepted</b>'
                    if environment.getattr(l_1_e, 'auth_detail'):
                        pass
                        yield '<small class="d">'
                        yield escape(t_4(environment, environment.getattr(l_1_e, 'auth_detail'), 160, True, '…', 0))
                        yield '</small>'
                else:
                    pass
                    yield '<b class="tag '
                    yield escape(('bad' if (environment.getattr(l_1_e, 'state') == 'open-ext') else cond_expr_undefined("the inline if-expression on line 167 in 'report.html.j2' evaluated to false and no else section was defined.")))
                    yield '">none</b>'
                yield '</td><td>'
                yield escape((environment.getattr(l_1_e, 'backend') or ''))
                yield '</td><td>'
                yield escape((environment.getattr(l_1_e, 'namespace') or '-'))
                yield '/'
                yield escape(environment.getattr(l_1_e, 'name'))
                yield '</td><td class="loc">'
                if environment.getattr(l_1_e, 'href'):
                    pass
                    yield '<a href="'
                    yield escape(environment.getattr(l_1_e, 'href'))
                    yield '" rel="noopener noreferrer">'
                    yield escape(environment.getattr(l_1_e, 'loc'))
                    yield '</a>'
                else:
                    pass
                    yield escape(environment.getattr(l_1_e, 'loc'))
                yield '</td></tr>\n'
            l_1_e = missing
            yield '    </tbody>\n  </table>\n  </div>\n</section>\n'
        yield '\n'
        if (undefined(name='flux') if l_0_flux is missing else l_0_flux):
            pass
            yield '<section id="flux" class="card">\n  <h2>Flux dependency graph</h2>\n  <p class="muted small">Kustomizations (KS) and HelmReleases (HR), reconciled left to right. Solid: creates; dashed: dependency (arrow to the dependent). Colour: worst open finding on the object. <span class="key n-none">no findings</span> <span class="key n-low">low/info</span> <span class="key n-medium">medium</span> <span class="key n-high">high</span> <span class="key n-critical">critical</span></p>\n  <div class="scroll graph">'
            yield escape(environment.getattr((undefined(name='flux') if l_0_flux is missing else l_0_flux), 'svg'))
            yield '</div>\n</section>\n'
    if ('tail' in (undefined(name='parts') if l_0_parts is missing else l_0_parts)):
        pass
        yield '\n'
        if (undefined(name='errors') if l_0_errors is missing else l_0_errors):
            pass
            yield '<section id="errors" class="card">\n  <h2>Scan errors</h2>\n  <table class="sortable">\n    <thead><tr><th>Kind</th><th>Location</th><th>Message</th></tr></thead>\n    <tbody>\n'
            for l_1_e in (undefined(name='errors') if l_0_errors is missing else l_0_errors):
                l_1_source_href = resolve('source_href')
                l_1_href = missing
                _loop_vars = {}
                pass
                l_1_href = context.call((undefined(name='source_href') if l_1_source_href is missing else l_1_source_href), environment.getattr(l_1_e, 'path'), environment.getattr(l_1_e, 'line'), _loop_vars=_loop_vars)
                _loop_vars['href'] = l_1_href
                yield '      <tr><td><span class="tag">'
                yield escape(environment.getattr(l_1_e, 'kind'))
                yield '</span></td><td class="loc">'
                if (undefined(name='href') if l_1_href is missing else l_1_href):
                    pass
                    yield '<a href="'
                    yield escape((undefined(name='href') if l_1_href is missing else l_1_href))
                    yield '" rel="noopener noreferrer">'
                    yield escape(environment.getattr(l_1_e, 'path'))
                    if environment.getattr(l_1_e, 'line'):
                        pass
                        yield ':'
                        yield escape(environment.getattr(l_1_e, 'line'))
                    yield '</a>'
                else:
                    pass
                    yield escape(environment.getattr(l_1_e, 'path'))
                    if environment.getattr(l_1_e, 'line'):
                        pass
                        yield ':'
                        yield escape(environment.getattr(l_1_e, 'line'))
                yield '</td><td>'
                yield escape(environment.getattr(l_1_e, 'message'))
                yield '</td></tr>\n'
            l_1_e = l_1_source_href = l_1_href = missing
            yield '    </tbody>\n  </table>\n</section>\n'
        yield '\n<section id="scan" class="card">\n  <h2>Scan details</h2>\n  <div class="cols">\n    <dl class="kv">\n'
        for (l_1_k, l_1_v) in context.call(environment.getattr((environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'stats') or {}), 'items')):
            _loop_vars = {}
            pass
            yield '<dt>'
            yield escape(t_3(context.eval_ctx, l_1_k, '_', ' '))
            yield '</dt><dd>'
            yield escape(l_1_v)
            yield '</dd>'
        l_1_k = l_1_v = missing
        yield '    </dl>\n    <dl class="kv">\n'
        for (l_1_k, l_1_v) in context.call(environment.getattr((environment.getattr((undefined(name='scan') if l_0_scan is missing else l_0_scan), 'phases') or {}), 'items')):
            _loop_vars = {}
            pass
            yield '<dt>'
            yield escape(l_1_k)
            yield '</dt><dd>'
            yield escape((t_1('%.2f', l_1_v) if t_5(l_1_v) else l_1_v))
            yield ' s</dd>'
        l_1_k = l_1_v = missing
        yield '    </dl>\n  </div>\n'
        if environment.getattr((undefined(name='score') if l_0_score is missing else l_0_score), 'formula'):
            pass
            yield '<p class="small"><b>Score formula:</b> '
            yield escape(environment.getattr((undefined(name='score') if l_0_score is missing else l_0_score), 'formula'))
            yield '</p>'
        yield '  <p class="small muted">Layer weights: '
        l_1_loop = missing
        for l_1_b, l_1_loop in LoopContext((undefined(name='bands') if l_0_bands is missing else l_0_bands), undefined):
            _loop_vars = {}
            pass
            yield escape(environment.getattr(l_1_b, 'name'))
            yield ' '
            yield escape(environment.getattr(l_1_b, 'weight'))
            yield escape((', ' if (not environment.getattr(l_1_loop, 'last')) else cond_expr_undefined("the inline if-expression on line 211 in 'report.html.j2' evaluated to false and no else section was defined.")))
        l_1_loop = l_1_b = missing
        yield '</p>\n</section>\n</main>\n<footer class="muted small">Generated by '
        yield escape(environment.getattr((undefined(name='tool') if l_0_tool is missing else l_0_tool), 'name'))
        yield ' '
        yield escape(environment.getattr((undefined(name='tool') if l_0_tool is missing else l_0_tool), 'version'))
        yield '. Self-contained: opens offline, makes no network request.</footer>\n<script>'
        yield escape((undefined(name='js') if l_0_js is missing else l_0_js))
        yield '</script>\n</body>\n</html>'

blocks = {}
debug_info = '3=69&6=71&13=74&15=76&16=80&18=86&22=88&26=90&27=96&28=98&30=117&31=127&32=133&35=156&36=159&37=161&38=163&39=175&46=188&48=192&49=195&50=198&51=201&52=204&61=211&62=215&63=220&64=224&65=228&66=230&68=232&69=248&71=252&77=258&80=261&88=264&91=281&94=300&99=315&103=329&107=331&110=338&114=341&118=344&119=348&125=373&127=376&131=378&138=381&140=384&146=387&148=395&149=400&150=412&158=440&162=443&166=445&167=449&175=512&179=515&183=517&185=520&191=523&192=528&193=531&204=557&207=567&210=577&211=584&214=593&215=597'
# Generated by `python -m reports.precompile` from reports/templates/report.html.j2: do not edit.
# posture-template-key: 9bd5329a2591f4a9a1dc4fbf7295212b4d70ed0248dd7a77a03a08bd5090f932
