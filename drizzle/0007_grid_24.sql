-- Dashboards move from a 12-column grid to Grafana's 24 columns: every stored panel keeps its
-- place and width on screen, so its x and w double. Panels keep their order (json_each walks the
-- array in order and the aggregate keeps it).
UPDATE `dashboards` SET `panels` = (
	SELECT json_group_array(json(json_set(p.value,
		'$.layout.x', json_extract(p.value, '$.layout.x') * 2,
		'$.layout.w', json_extract(p.value, '$.layout.w') * 2)))
	FROM json_each(`dashboards`.`panels`) AS p
) WHERE json_array_length(`panels`) > 0;
